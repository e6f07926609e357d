//! Charts as SVG, without I/O: a line for a monthly series, bars for a breakdown, a
//! Chinese title, gridlines on round values. PNG is rasterised from this SVG elsewhere.

/// How the points are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// A line through the points (a monthly series).
    Line,
    /// One bar per point (a breakdown).
    Bars,
}

/// A chart to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The title, drawn at the top.
    pub title: String,
    /// Line or bars.
    pub kind: ChartKind,
    /// The labels and values, in order.
    pub points: Vec<(String, i64)>,
}

/// The width of every chart, in pixels.
pub const WIDTH: u32 = 800;
/// The height of every chart, in pixels.
pub const HEIGHT: u32 = 450;

const FONT: &str =
    "WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif";
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 90.0;
const COLOR: &str = "#c2185b";

/// Text escaped for XML.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            character if character.is_control() => {}
            character => escaped.push(character),
        }
    }
    escaped
}

/// The smallest round number (1, 2 or 5 times a power of ten) at least `value` / 5, so that
/// five gridlines cover `value`.
fn step_for(value: i64) -> i64 {
    let wanted = (value.max(1) as f64 / 5.0).max(1.0);
    let mut power = 1i64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * power;
            if step as f64 >= wanted {
                return step;
            }
        }
        power = power.saturating_mul(10);
    }
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> String {
    let width = f64::from(WIDTH);
    let height = f64::from(HEIGHT);
    let plot_width = width - LEFT - RIGHT;
    let plot_height = height - TOP - BOTTOM;
    let largest = chart
        .points
        .iter()
        .map(|(_, value)| *value)
        .max()
        .unwrap_or(0)
        .max(0);
    let step = step_for(largest);
    let top_value = (step * 5).max(1) as f64;
    let y_of = |value: i64| TOP + plot_height - (value.max(0) as f64 / top_value) * plot_height;
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"{FONT}\">\n"
    ));
    out.push_str(&format!(
        "<title>{}</title>\n<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n",
        escape(&chart.title)
    ));
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"36\" font-size=\"22\" text-anchor=\"middle\" fill=\"#222222\">{}</text>\n",
        width / 2.0,
        escape(&chart.title)
    ));
    // Gridlines and their values.
    for index in 0..=5 {
        let value = step * index;
        let y = y_of(value);
        out.push_str(&format!(
            "<line x1=\"{LEFT:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#dddddd\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#555555\">{value}</text>\n",
            LEFT + plot_width,
            LEFT - 8.0,
            y + 4.0
        ));
    }
    out.push_str(&format!(
        "<line x1=\"{LEFT:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#333333\"/>\n",
        TOP + plot_height,
        LEFT + plot_width,
        TOP + plot_height
    ));
    let count = chart.points.len().max(1);
    let slot = plot_width / count as f64;
    // At most about twenty labels along the axis.
    let label_every = count.div_ceil(20).max(1);
    let mut line = Vec::with_capacity(chart.points.len());
    for (index, (label, value)) in chart.points.iter().enumerate() {
        let center = LEFT + slot * (index as f64 + 0.5);
        let y = y_of(*value);
        match chart.kind {
            ChartKind::Bars => {
                let bar = (slot * 0.6).max(1.0);
                out.push_str(&format!(
                    "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{COLOR}\"/>\n\
                     <text x=\"{center:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#222222\">{value}</text>\n",
                    center - bar / 2.0,
                    TOP + plot_height - y,
                    y - 4.0
                ));
            }
            ChartKind::Line => {
                line.push(format!("{center:.1},{y:.1}"));
                out.push_str(&format!(
                    "<circle cx=\"{center:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{COLOR}\"/>\n"
                ));
            }
        }
        if index % label_every == 0 {
            let label_y = TOP + plot_height + 18.0;
            out.push_str(&format!(
                "<text x=\"{center:.1}\" y=\"{label_y:.1}\" font-size=\"12\" text-anchor=\"end\" \
                 fill=\"#333333\" transform=\"rotate(-35 {center:.1} {label_y:.1})\">{}</text>\n",
                escape(label)
            ));
        }
    }
    if chart.kind == ChartKind::Line && !line.is_empty() {
        out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{COLOR}\" stroke-width=\"2\"/>\n",
            line.join(" ")
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(step_for(0), 1);
        assert_eq!(step_for(7), 2);
        assert_eq!(step_for(425), 100);
        assert_eq!(step_for(1001), 500);
    }

    #[test]
    fn titles_and_labels_are_escaped() {
        let svg = svg(&Chart {
            title: "服务时长 <按月>".to_string(),
            kind: ChartKind::Bars,
            points: vec![("A&B".to_string(), 3), ("女".to_string(), 5)],
        });
        assert!(svg.contains("服务时长 &lt;按月&gt;"));
        assert!(svg.contains("A&amp;B"));
        assert!(svg.starts_with("<svg"));
        let line = super::svg(&Chart {
            title: String::new(),
            kind: ChartKind::Line,
            points: vec![],
        });
        assert!(line.ends_with("</svg>\n"));
    }
}
