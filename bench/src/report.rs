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

/// The implementations that appear in `rows`, in [`Imp::ALL`] order.
fn columns(rows: &[&Row]) -> Vec<Imp> {
    Imp::ALL
        .into_iter()
        .filter(|&i| rows.iter().any(|r| r.has(i)))
        .collect()
}

/// The rows split by group, in order of first appearance: each group gets its own table
/// with only the columns it uses, so no table is wider than it needs to be.
fn groups(rows: &[Row]) -> Vec<Vec<&Row>> {
    let mut out: Vec<Vec<&Row>> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|g| g[0].group == r.group) {
            Some(g) => g.push(r),
            None => out.push(vec![r]),
        }
    }
    out
}

fn headers(cols: &[Imp], with_raw: bool) -> Vec<String> {
    let mut h: Vec<String> = ["benchmark", "parameters", "metric"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    h.extend(cols.iter().map(|i| i.name().to_string()));
    h.push("ratio tokio/ours".into());
    if with_raw {
        h.push("vs raw".into());
    }
    h
}

fn table_cells(rows: &[&Row], cols: &[Imp], with_raw: bool) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut c = vec![
                r.bench.to_string(),
                r.params.clone(),
                metric_label(&r.metric),
            ];
            c.extend(cols.iter().map(|&i| {
                if r.has(i) {
                    cell(r.summary(i))
                } else {
                    String::new()
                }
            }));
            c.push(ratio_cell(r.ratio(Imp::Tokio)));
            if with_raw {
                c.push(if r.has(Imp::Raw) {
                    ratio_cell(r.ratio(Imp::Raw))
                } else {
                    String::new()
                });
            }
            c
        })
        .collect()
}

/// One group's table: header and cells.
fn group_table(g: &[&Row]) -> (Vec<String>, Vec<Vec<String>>) {
    let cols = columns(g);
    let with_raw = cols.contains(&Imp::Raw);
    (headers(&cols, with_raw), table_cells(g, &cols, with_raw))
}

/// The plain-text tables, one per group.
pub fn text_table(rows: &[Row]) -> String {
    let mut out = String::new();
    for g in groups(rows) {
        let (head, cells) = group_table(&g);
        let mut w = vec![0usize; head.len()];
        for row in std::iter::once(&head).chain(cells.iter()) {
            for (i, c) in row.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |out: &mut String, row: &[String]| {
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
        if !out.is_empty() {
            out.push('\n');
        }
        line(&mut out, &head);
        let total: usize = w.iter().sum::<usize>() + 2 * (w.len() - 1);
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for c in &cells {
            line(&mut out, c);
        }
    }
    out
}

/// The legend printed under the table (and in the Markdown file).
pub const LEGEND: &str =
    "Values: median (min–max) over the measured runs. ↓ lower is better, ↑ higher is better.\n\
ratio tokio/ours and vs raw: > 1 means ours is better (for ↑ metrics the ratio is ours/theirs, \
so it always reads \"how many times better are we\").";

/// Each group's table alone (`(group, markdown)`), so that a book page can include just the
/// table it discusses; the header line is repeated in each.
pub fn markdown_groups(rows: &[Row], header: &str) -> Vec<(&'static str, String)> {
    groups(rows)
        .into_iter()
        .map(|g| {
            let owned: Vec<Row> = g
                .iter()
                .map(|r| Row {
                    group: r.group,
                    bench: r.bench,
                    params: r.params.clone(),
                    metric: r.metric,
                    results: r.results.clone(),
                })
                .collect();
            (g[0].group, markdown(&owned, header))
        })
        .collect()
}

/// The Markdown version of the tables (one per group), for the book.
pub fn markdown(rows: &[Row], header: &str) -> String {
    let mut out = format!("{header}\n");
    for g in groups(rows) {
        let (head, cells) = group_table(&g);
        let _ = writeln!(out, "\n**{}**\n", g[0].group);
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            "---|".repeat(3) + &"---:|".repeat(head.len() - 3)
        );
        for c in &cells {
            let _ = writeln!(out, "| {} |", c.join(" | "));
        }
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

/// Colour of an implementation in the chart.
fn colour(imp: Imp) -> RGBColor {
    match imp {
        Imp::Ours => RGBColor(50, 110, 200),
        Imp::Tokio => RGBColor(230, 130, 40),
        Imp::TokioPooled => RGBColor(240, 190, 120),
        Imp::OursBare => RGBColor(140, 180, 230),
        Imp::Raw => RGBColor(110, 110, 110),
        Imp::RawFair => RGBColor(170, 170, 170),
        Imp::RawFair256 => RGBColor(140, 140, 140),
        Imp::SeedOneshot => RGBColor(60, 160, 90),
        Imp::SeedExclusive => RGBColor(130, 90, 180),
        Imp::SeedAcceptor => RGBColor(190, 70, 90),
    }
}

/// A "nice" upper end for an axis that must include `v`: 1, 2 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

/// Small multiples: one panel per benchmark metric, each with its own linear axis in the
/// metric's unit starting at 0 (nothing clamped), a bar per implementation at the median
/// and an error bar from the smallest to the largest sample.
pub fn svg(rows: &[Row], path: &Path, title: &str) -> Result<(), String> {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.results
                .iter()
                .any(|(_, x)| x.as_ref().is_ok_and(|v| !v.is_empty()))
        })
        .collect();
    let (width, cols, top) = (1240i32, 2usize, 70i32);
    let panel_w = width / cols as i32;
    let bar_h = 17i32;
    let panel_h = |r: &Row| 40 + bar_h * r.results.len() as i32 + 28;
    // Panels fill the columns left to right, row by row; a row is as tall as its tallest.
    let mut layout = Vec::new();
    let mut y = top;
    for chunk in rows.chunks(cols) {
        let h = chunk.iter().map(|r| panel_h(r)).max().unwrap_or(0);
        for (k, r) in chunk.iter().enumerate() {
            layout.push((*r, k as i32 * panel_w, y));
        }
        y += h;
    }
    let height = y + 20;
    let root = SVGBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<std::io::Error>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let font = |size: i32| ("sans-serif", size).into_font();
    root.draw(&Text::new(
        "bench: every metric on its own axis".to_string(),
        (10, 8),
        font(20),
    ))
    .map_err(err)?;
    root.draw(&Text::new(title.to_string(), (10, 30), font(12)))
        .map_err(err)?;
    root.draw(&Text::new(
        "bar: median; whisker: min–max over the measured runs; linear axis from 0; \
         ↓ lower is better, ↑ higher is better"
            .to_string(),
        (10, 46),
        font(13),
    ))
    .map_err(err)?;
    let (label_w, right) = (150i32, 70i32);
    for (r, x0, y0) in layout {
        let summaries: Vec<(Imp, Option<Summary>)> = r
            .results
            .iter()
            .map(|(i, x)| (*i, x.as_ref().ok().and_then(|v| Summary::of(v))))
            .collect();
        let top_value = summaries
            .iter()
            .filter_map(|(_, s)| s.map(|s| s.max))
            .fold(0.0f64, f64::max);
        let axis_max = nice_ceiling(top_value);
        let (ax0, ax1) = (x0 + label_w, x0 + panel_w - right);
        let x_of = |v: f64| ax0 + ((v / axis_max) * f64::from(ax1 - ax0)).round() as i32;
        let mut short = r.params.clone();
        if short.chars().count() > 80 {
            short = short.chars().take(79).collect::<String>() + "…";
        }
        root.draw(&Text::new(
            format!("{} · {}", r.bench, metric_label(&r.metric)),
            (x0 + 8, y0),
            font(16),
        ))
        .map_err(err)?;
        root.draw(&Text::new(short, (x0 + 8, y0 + 19), font(13)))
            .map_err(err)?;
        let by = y0 + 40;
        let bottom = by + bar_h * summaries.len() as i32;
        for k in 0..=4 {
            let v = axis_max * f64::from(k) / 4.0;
            let x = x_of(v);
            let c = if k == 0 {
                BLACK
            } else {
                RGBColor(225, 225, 225)
            };
            root.draw(&PathElement::new(vec![(x, by - 2), (x, bottom)], c))
                .map_err(err)?;
            root.draw(&Text::new(num(v), (x - 10, bottom + 3), font(13)))
                .map_err(err)?;
        }
        for (j, (imp, s)) in summaries.iter().enumerate() {
            let y = by + bar_h * j as i32;
            root.draw(&Text::new(
                imp.name().to_string(),
                (x0 + 8, y + 1),
                font(14),
            ))
            .map_err(err)?;
            let Some(s) = s else {
                root.draw(&Text::new("FAILED".to_string(), (ax0 + 4, y + 1), font(14)))
                    .map_err(err)?;
                continue;
            };
            root.draw(&Rectangle::new(
                [(ax0, y + 2), (x_of(s.median).max(ax0 + 1), y + bar_h - 2)],
                colour(*imp).filled(),
            ))
            .map_err(err)?;
            let mid = y + bar_h / 2;
            let (lo, hi) = (x_of(s.min), x_of(s.max));
            for seg in [
                vec![(lo, mid), (hi, mid)],
                vec![(lo, y + 3), (lo, y + bar_h - 3)],
                vec![(hi, y + 3), (hi, y + bar_h - 3)],
            ] {
                root.draw(&PathElement::new(seg, BLACK)).map_err(err)?;
            }
            root.draw(&Text::new(num(s.median), (hi + 4, y + 1), font(13)))
                .map_err(err)?;
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
        // One panel per metric, each with its own labels; the failed column says so.
        assert!(s.contains("<svg") && s.contains("lines /s ↑") && s.contains("FAILED"));
        if std::env::var_os("BENCH_KEEP_SVG").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert_eq!(num(1234.0), "1234");
        assert_eq!(num(354_567.0), "355k");
    }
}
