//! The results: a text table on stdout, and CSV, Markdown and SVG files for the book.

use crate::{Imp, MetricDef};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// Summary of a set of samples.
#[derive(Clone, Copy)]
pub struct Summary {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `v` (None when empty).
    pub fn of(v: &[f64]) -> Option<Summary> {
        if v.is_empty() {
            return None;
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: s[0],
            max: s[n - 1],
        })
    }
}

/// One line of the results: one metric of one benchmark, for each implementation.
pub struct Row {
    /// Benchmark group (executor, timer, net, build).
    pub group: &'static str,
    /// Benchmark name.
    pub bench: &'static str,
    /// Parameters in words.
    pub params: String,
    /// The metric.
    pub metric: MetricDef,
    /// Samples (after warm-up) or the error, per implementation run.
    pub results: Vec<(Imp, Result<Vec<f64>, String>)>,
}

impl Row {
    fn summary(&self, imp: Imp) -> Option<Result<Summary, &str>> {
        self.results
            .iter()
            .find(|(i, _)| *i == imp)
            .map(|(_, r)| match r {
                Ok(v) => Summary::of(v).ok_or("no samples"),
                Err(e) => Err(e.as_str()),
            })
    }

    /// How many times better ours is than `other`: tokio/ours for lower-is-better
    /// metrics, ours/tokio for higher-is-better ones (above 1: ours is better).
    pub fn ratio(&self, other: Imp) -> Option<f64> {
        let ours = self.summary(Imp::Ours)?.ok()?.median;
        let theirs = self.summary(other)?.ok()?.median;
        let r = if self.metric.higher_is_better {
            ours / theirs
        } else {
            theirs / ours
        };
        r.is_finite().then_some(r)
    }

    fn has(&self, imp: Imp) -> bool {
        self.results.iter().any(|(i, _)| *i == imp)
    }
}

/// Formats a number with about 3–4 significant digits.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e4 {
        format!("{v:.0}")
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn cell(s: Option<Result<Summary, &str>>) -> String {
    match s {
        None => "-".into(),
        Some(Err(_)) => "FAILED".into(),
        Some(Ok(s)) if s.min == s.max => num(s.median),
        Some(Ok(s)) => format!("{} ({}–{})", num(s.median), num(s.min), num(s.max)),
    }
}

fn ratio_cell(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
}

fn metric_label(m: &MetricDef) -> String {
    format!(
        "{} {} {}",
        m.name,
        m.unit,
        if m.higher_is_better { "↑" } else { "↓" }
    )
}

const HEADERS: [&str; 7] = [
    "benchmark",
    "parameters",
    "metric",
    "ours",
    "tokio",
    "raw-epoll",
    "ratio tokio/ours",
];

fn table_cells(rows: &[Row]) -> Vec<[String; 8]> {
    rows.iter()
        .map(|r| {
            [
                r.bench.to_string(),
                r.params.clone(),
                metric_label(&r.metric),
                cell(r.summary(Imp::Ours)),
                cell(r.summary(Imp::Tokio)),
                if r.has(Imp::Raw) {
                    cell(r.summary(Imp::Raw))
                } else {
                    "".into()
                },
                ratio_cell(r.ratio(Imp::Tokio)),
                if r.has(Imp::Raw) {
                    ratio_cell(r.ratio(Imp::Raw))
                } else {
                    "".into()
                },
            ]
        })
        .collect()
}

fn headers() -> [String; 8] {
    let mut h: Vec<String> = HEADERS.iter().map(|s| s.to_string()).collect();
    h.push("vs raw".into());
    h.try_into().unwrap_or_else(|_| unreachable!())
}

/// The plain-text table.
pub fn text_table(rows: &[Row]) -> String {
    let cells = table_cells(rows);
    let head = headers();
    let mut w = [0usize; 8];
    for row in std::iter::once(&head).chain(cells.iter()) {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String; 8]| {
        for (i, c) in row.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i >= 3 {
                let _ = write!(out, "{}{}  ", " ".repeat(pad), c);
            } else {
                let _ = write!(out, "{}{}  ", c, " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &head);
    let total: usize = w.iter().sum::<usize>() + 2 * 7;
    out.push_str(&"-".repeat(total));
    out.push('\n');
    let mut group = "";
    for (r, c) in rows.iter().zip(&cells) {
        if r.group != group && !group.is_empty() {
            out.push('\n');
        }
        group = r.group;
        line(&mut out, c);
    }
    out
}

/// The legend printed under the table (and in the Markdown file).
pub const LEGEND: &str =
    "Values: median (min–max) over the measured runs. ↓ lower is better, ↑ higher is better.\n\
ratio tokio/ours and vs raw: > 1 means ours is better (for ↑ metrics the ratio is ours/theirs, \
so it always reads \"how many times better are we\").";

/// The Markdown version of the table, for the book.
pub fn markdown(rows: &[Row], header: &str) -> String {
    let cells = table_cells(rows);
    let mut out = format!("{header}\n\n");
    let head = headers();
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(3) + &"---:|".repeat(5));
    for c in &cells {
        let _ = writeln!(out, "| {} |", c.join(" | "));
    }
    out.push('\n');
    out.push_str(&LEGEND.replace('\n', "\n\n"));
    out.push('\n');
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Long-format CSV: one line per (metric, implementation).
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("group,benchmark,parameters,metric,unit,better,implementation,median,min,max,samples,error\n");
    for r in rows {
        for (imp, res) in &r.results {
            let (median, min, max, samples, err) = match res {
                Ok(v) => match Summary::of(v) {
                    Some(s) => (
                        s.median.to_string(),
                        s.min.to_string(),
                        s.max.to_string(),
                        v.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                        String::new(),
                    ),
                    None => Default::default(),
                },
                Err(e) => (
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    e.clone(),
                ),
            };
            let fields = [
                r.group.to_string(),
                r.bench.to_string(),
                r.params.clone(),
                r.metric.name.to_string(),
                r.metric.unit.to_string(),
                if r.metric.higher_is_better {
                    "higher"
                } else {
                    "lower"
                }
                .to_string(),
                imp.name().to_string(),
                median,
                min,
                max,
                samples,
                err,
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// A horizontal bar chart of the ratios (log scale, 1 = parity), one row per metric.
pub fn svg(rows: &[Row], path: &Path, title: &str) -> Result<(), String> {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ratio(Imp::Tokio).is_some() || r.ratio(Imp::Raw).is_some())
        .collect();
    let row_h = 26i32;
    let (left, right, top) = (330i32, 40i32, 80i32);
    let width = 1000i32;
    let height = top + row_h * rows.len().max(1) as i32 + 60;
    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let font = ("sans-serif", 13).into_font();
    root.draw(&Text::new(
        "bench: ours vs tokio, and vs the raw-epoll limit".to_string(),
        (10, 8),
        ("sans-serif", 16).into_font(),
    ))
    .map_err(err)?;
    root.draw(&Text::new(
        title.to_string(),
        (10, 30),
        ("sans-serif", 11).into_font(),
    ))
    .map_err(err)?;
    root.draw(&Text::new(
        "blue: ours vs tokio; grey: ours vs raw epoll; right of 1× = ours better \
         (log scale, clamped at ⅛× and 8×)"
            .to_string(),
        (10, 46),
        ("sans-serif", 11).into_font(),
    ))
    .map_err(err)?;
    // Log2 axis from 1/8× to 8×.
    let (lo, hi) = (-3.0f64, 3.0f64);
    let x_of = |r: f64| -> i32 {
        let l = r.log2().clamp(lo, hi);
        left + ((l - lo) / (hi - lo) * f64::from(width - left - right)) as i32
    };
    let bottom = top + row_h * rows.len() as i32;
    for (k, label) in [
        (0.125, "⅛×"),
        (0.25, "¼×"),
        (0.5, "½×"),
        (1.0, "1×"),
        (2.0, "2×"),
        (4.0, "4×"),
        (8.0, "8×"),
    ] {
        let x = x_of(k);
        let color = if k == 1.0 {
            BLACK
        } else {
            RGBColor(220, 220, 220)
        };
        root.draw(&PathElement::new(vec![(x, top - 6), (x, bottom)], color))
            .map_err(err)?;
        root.draw(&Text::new(
            label.to_string(),
            (x - 8, bottom + 6),
            font.clone(),
        ))
        .map_err(err)?;
    }
    let blue = RGBColor(50, 110, 200);
    let grey = RGBColor(150, 150, 150);
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as i32;
        let label = format!("{} · {} {}", r.bench, r.metric.name, r.metric.unit);
        root.draw(&Text::new(label, (10, y + 5), font.clone()))
            .map_err(err)?;
        let one = x_of(1.0);
        let bar = |ratio: Option<f64>, y0: i32, y1: i32, color: RGBColor| -> Result<(), String> {
            if let Some(q) = ratio {
                let x = x_of(q);
                root.draw(&Rectangle::new(
                    [(one.min(x), y0), (one.max(x).max(one.min(x) + 1), y1)],
                    color.filled(),
                ))
                .map_err(err)?;
                let tx = if q >= 1.0 {
                    x + 4
                } else {
                    (x - 44).max(left - 44)
                };
                root.draw(&Text::new(
                    format!("{q:.2}×"),
                    (tx, y0 - 1),
                    ("sans-serif", 11).into_font(),
                ))
                .map_err(err)?;
            }
            Ok(())
        };
        if r.has(Imp::Raw) {
            bar(r.ratio(Imp::Tokio), y + 3, y + 12, blue)?;
            bar(r.ratio(Imp::Raw), y + 13, y + 22, grey)?;
        } else {
            bar(r.ratio(Imp::Tokio), y + 5, y + 19, blue)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{higher, lower};

    fn row(bench: &'static str, metric: MetricDef, vals: &[(Imp, f64)]) -> Row {
        Row {
            group: "net",
            bench,
            params: "p".into(),
            metric,
            results: vals
                .iter()
                .map(|&(i, v)| (i, Ok(vec![v, v * 1.1, v * 0.9])))
                .collect(),
        }
    }

    #[test]
    fn outputs() {
        let rows = vec![
            row(
                "spawn_many_local",
                lower("time", "µs/iter"),
                &[(Imp::Ours, 100.0), (Imp::Tokio, 150.0)],
            ),
            row(
                "throughput",
                higher("lines", "/s"),
                &[(Imp::Ours, 3e5), (Imp::Tokio, 3.3e5), (Imp::Raw, 4e5)],
            ),
            Row {
                group: "net",
                bench: "latency",
                params: "a, \"b\"".into(),
                metric: lower("p99", "µs"),
                results: vec![(Imp::Ours, Err("boom".into())), (Imp::Tokio, Ok(vec![1.0]))],
            },
        ];
        assert!((rows[0].ratio(Imp::Tokio).unwrap() - 1.5).abs() < 1e-9);
        assert!((rows[1].ratio(Imp::Tokio).unwrap() - 3.0 / 3.3).abs() < 1e-9);
        let t = text_table(&rows);
        assert!(t.contains("FAILED") && t.contains("100 (90–110)"), "{t}");
        let c = csv(&rows);
        assert!(c.contains("\"a, \"\"b\"\"\"") && c.contains(",boom"), "{c}");
        let dir = std::env::temp_dir().join(format!("bench-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.svg");
        svg(&rows, &path, "test").unwrap();
        let s = std::fs::read_to_string(&path).unwrap();
        assert!(s.contains("<svg") && s.contains("1.50×"));
        if std::env::var_os("BENCH_KEEP_SVG").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert_eq!(num(1234.0), "1234");
        assert_eq!(num(354_567.0), "355k");
    }
}
