// Draws the book's ```mermaid blocks with the committed mermaid.min.js.
//
// Plain mdBook (no preprocessor) renders such a block as an ordinary code
// listing: <pre><code class="language-mermaid">…</code></pre>. This script,
// loaded after mermaid.min.js through `additional-js` in book.toml, swaps each
// of those listings for the <pre class="mermaid"> element mermaid draws into,
// then asks mermaid to draw them. So `mdbook serve book` needs nothing but
// mdbook itself, and the diagrams still come from the text in the chapter.
(() => {
    'use strict';

    // mermaid has one light and one dark palette; follow mdBook's theme class
    // on <html> so a diagram is readable on the page behind it.
    const darkThemes = ['ayu', 'navy', 'coal'];
    const lightThemes = ['light', 'rust'];
    const html = document.documentElement;
    const dark = darkThemes.some((t) => html.classList.contains(t));

    // textContent, not innerHTML: mdBook escapes `<br/>` and `-->` inside a
    // code block, and highlight.js may have wrapped parts in <span>s; the text
    // is what the author wrote in the chapter.
    const blocks = [...document.querySelectorAll('code.language-mermaid')];
    const nodes = blocks.map((code) => {
        const diagram = document.createElement('pre');
        diagram.className = 'mermaid';
        diagram.textContent = code.textContent;
        // Replace the whole listing (<pre> and the buttons mdBook puts in
        // it), not only the <code>, so no "copy" button floats on a picture.
        const listing = code.parentElement && code.parentElement.tagName === 'PRE'
            ? code.parentElement
            : code;
        listing.replaceWith(diagram);
        return diagram;
    });

    mermaid.initialize({ startOnLoad: false, theme: dark ? 'dark' : 'default' });
    if (nodes.length > 0) {
        // A diagram that does not parse is drawn as mermaid's error picture
        // and the promise rejects: let it reach the console, where the book
        // check (scripts/check_book_browser.py) sees it.
        mermaid.run({ nodes });
    }

    // A diagram is drawn once, in the palette of the theme at load time;
    // switching between a light and a dark theme reloads the page to redraw.
    const reloadOnSwitch = (themes, toDark) => {
        for (const theme of themes) {
            const button = document.getElementById('mdbook-theme-' + theme);
            if (button) {
                button.addEventListener('click', () => {
                    if (toDark !== dark) window.location.reload();
                });
            }
        }
    };
    reloadOnSwitch(darkThemes, true);
    reloadOnSwitch(lightThemes, false);
})();
