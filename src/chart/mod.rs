//! Draws a result's [`Chart`] as a PNG, in-process, with plotters and a font bundled into
//! the binary (DejaVu Sans; servers and the Docker image have no system fonts).
//!
//! The picture is opaque (a light card with dark text), so it reads the same in a light or
//! a dark chat theme, and sized for a chat thumbnail: 1200 pixels wide, text no smaller than
//! 22 pixels. Every bar carries its label and its number: colour is never the only thing
//! that says what a bar is.

use crate::core::chart::{Chart, MOST_MOVED};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

const WIDTH: u32 = 1200;
const MARGIN: i32 = 40;
const ROW: i32 = 50;

const BACKGROUND: RGBColor = RGBColor(0xfa, 0xfa, 0xf7);
const INK: RGBColor = RGBColor(0x1f, 0x23, 0x28);
const MUTED: RGBColor = RGBColor(0x5b, 0x63, 0x6e);
const TRACK: RGBColor = RGBColor(0xe4, 0xe6, 0xea);
/// The recommended option's bar, the others', and the two sides of what moved it.
const PICKED: RGBColor = RGBColor(0x1f, 0x6f, 0xb2);
const OTHER: RGBColor = RGBColor(0x8a, 0x94, 0xa3);
const LEAD: RGBColor = RGBColor(0x2e, 0x7d, 0x4f);
const RIVAL: RGBColor = RGBColor(0xb5, 0x53, 0x2c);
/// Lines of a recurring poll's trend, by option.
const SERIES: [RGBColor; 4] = [PICKED, RIVAL, LEAD, RGBColor(0x6b, 0x4c, 0x9a)];

/// Something drawn, where: what tests check the picture against.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A bar: what it stands for, its value, its corners (left, top, right, bottom).
    Bar {
        label: String,
        value: f64,
        at: (i32, i32, i32, i32),
    },
    /// A line of text and where it starts (left, vertical centre).
    Text { text: String, at: (i32, i32) },
}

/// A drawn chart: the PNG and what is in it.
pub struct Drawing {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub marks: Vec<Mark>,
}

/// The bundled font, DejaVu Sans (its licence is in `fonts/LICENSE`).
static REGULAR: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");

static FONTS: OnceLock<Result<(), String>> = OnceLock::new();

/// Makes the bundled font the one plotters draws `sans-serif` with.
fn fonts() -> Result<(), String> {
    FONTS
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, REGULAR)
                .map_err(|_| "the bundled font cannot be read".to_owned())?;
            plotters::style::register_font("sans-serif", FontStyle::Bold, BOLD)
                .map_err(|_| "the bundled bold font cannot be read".to_owned())
        })
        .clone()
}

fn font(size: f64, bold: bool) -> FontDesc<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    FontDesc::new(FontFamily::SansSerif, size, style)
}

fn text(size: f64, bold: bool, color: &RGBColor) -> TextStyle<'static> {
    font(size, bold).color(color)
}

/// The picture's height: every section's rows, and the margins.
fn height(chart: &Chart) -> u32 {
    let mut rows = 3 + chart.scores.len() as i32 + 1;
    if !chart.moved.by.is_empty() {
        rows += 2 + chart.moved.by.len().min(MOST_MOVED) as i32;
        if chart.moved.by.len() > MOST_MOVED {
            rows += 1;
        }
    }
    if !chart.split.is_empty() {
        rows += 1 + chart.split.len() as i32;
    }
    for _ in &chart.diverged {
        rows += 3;
    }
    if !chart.diverged.is_empty() {
        rows += 1;
    }
    if chart.rounds.len() > 1 {
        rows += 9 + chart.rounds.last().map_or(0, |r| r.1.len()) as i32;
    }
    (MARGIN * 2 + rows * ROW) as u32
}

/// The chart as a PNG.
pub fn png(chart: &Chart) -> Result<Vec<u8>, String> {
    Ok(drawing(chart)?.png)
}

/// The chart as a PNG, with what was drawn where.
pub fn drawing(chart: &Chart) -> Result<Drawing, String> {
    fonts()?;
    let (width, height) = (WIDTH, height(chart));
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    let mut marks = Vec::new();
    let used = draw(chart, &mut pixels, (width, height), &mut marks)
        .map_err(|e| format!("cannot draw the chart: {e}"))?;
    // The rows were counted generously: the picture ends below its last line.
    let height = used.clamp(1, height);
    pixels.truncate((width * height * 3) as usize);
    let mut out = Vec::with_capacity(64 * 1024);
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder
            .write_header()
            .map_err(|e| format!("cannot encode the chart: {e}"))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| format!("cannot encode the chart: {e}"))?;
    }
    Ok(Drawing {
        png: out,
        width,
        height,
        marks,
    })
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type Drawn<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// `s`, cut with an ellipsis to fit `width` pixels in `style`.
fn fit(area: &Area, s: &str, style: &FontDesc, width: u32) -> String {
    let style = TextStyle::from(style.clone());
    let fits = |t: &str| {
        area.estimate_text_size(t, &style)
            .map_or(true, |(w, _)| w <= width)
    };
    if fits(s) {
        return s.to_owned();
    }
    let chars: Vec<char> = s.chars().collect();
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let cut: String = chars[..mid].iter().collect::<String>() + "…";
        if fits(&cut) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    chars[..lo].iter().collect::<String>().trim_end().to_owned() + "…"
}

/// Draws `chart`; returns the height it used.
fn draw(chart: &Chart, pixels: &mut [u8], size: (u32, u32), marks: &mut Vec<Mark>) -> Drawn<u32> {
    let area = BitMapBackend::with_buffer(pixels, size).into_drawing_area();
    let mut canvas = Canvas { area: &area, marks };
    canvas.area.fill(&BACKGROUND)?;
    let right = WIDTH as i32 - MARGIN;
    let mut y = MARGIN;
    let title = font(40.0, true);
    let line = fit(
        canvas.area,
        &chart.headline,
        &title,
        (right - MARGIN) as u32,
    );
    canvas.text(line, (MARGIN, y), title.color(&INK))?;
    y += ROW + 8;
    let verdict = font(28.0, false);
    let line = fit(
        canvas.area,
        &chart.verdict,
        &verdict,
        (right - MARGIN) as u32,
    );
    canvas.text(line, (MARGIN, y), verdict.color(&INK))?;
    y += ROW + 12;

    // The scores: one bar per option, 0–100, the number at its end.
    y = heading(&mut canvas, "Scores (0–100)", y)?;
    let (label_w, bar_x) = (380, MARGIN + 400);
    let bar_w = right - 90 - bar_x;
    for (label, score, picked) in &chart.scores {
        canvas.row_label(label, y, font(28.0, *picked), label_w as u32)?;
        let len = (bar_w as f64 * score.clamp(0.0, 100.0) / 100.0).round() as i32;
        canvas.area.draw(&Rectangle::new(
            [(bar_x, y + 10), (bar_x + bar_w, y + ROW - 10)],
            TRACK.filled(),
        ))?;
        let fill = if *picked { PICKED } else { OTHER };
        canvas.bar(
            label,
            *score,
            (bar_x, y + 10, bar_x + len.max(2), y + ROW - 10),
            fill,
        )?;
        canvas.text(
            format!("{}", score.round()),
            (bar_x + bar_w + 14, y + ROW / 2),
            text(28.0, true, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
        )?;
        y += ROW;
    }
    y += ROW / 2;

    // What moved it: a signed bar per criterion, toward the lead on the right.
    let moved = &chart.moved;
    if !moved.by.is_empty() {
        y = heading(
            &mut canvas,
            &format!(
                "What moved it: points toward {} (right) or {} (left)",
                moved.lead, moved.rival
            ),
            y,
        )?;
        let (label_w, centre) = (440, MARGIN + 460 + (right - 70 - MARGIN - 460) / 2);
        let half = (right - 70 - MARGIN - 460) / 2;
        let most = moved
            .by
            .iter()
            .map(|(_, p)| p.abs())
            .fold(1.0_f64, f64::max);
        for (label, points) in moved.by.iter().take(MOST_MOVED) {
            canvas.row_label(label, y, font(24.0, false), label_w as u32)?;
            let len = ((half - 60) as f64 * points.abs() / most).round().max(2.0) as i32;
            let (x0, x1, color) = if *points >= 0.0 {
                (centre, centre + len, LEAD)
            } else {
                (centre - len, centre, RIVAL)
            };
            canvas.bar(label, *points, (x0, y + 12, x1, y + ROW - 12), color)?;
            let (value, at, anchor) = if *points >= 0.0 {
                (format!("+{points:.1}"), x1 + 8, HPos::Left)
            } else {
                (format!("{points:.1}"), x0 - 8, HPos::Right)
            };
            canvas.text(
                value,
                (at, y + ROW / 2),
                text(22.0, true, &INK).pos(Pos::new(anchor, VPos::Center)),
            )?;
            y += ROW;
        }
        let top = y - ROW * moved.by.len().min(MOST_MOVED) as i32;
        canvas.area.draw(&PathElement::new(
            vec![(centre, top + 4), (centre, y - 4)],
            MUTED.stroke_width(2),
        ))?;
        if moved.by.len() > MOST_MOVED {
            canvas.text(
                format!("and {} more", moved.by.len() - MOST_MOVED),
                (MARGIN, y + ROW / 2),
                text(22.0, false, &MUTED).pos(Pos::new(HPos::Left, VPos::Center)),
            )?;
            y += ROW;
        }
        y += ROW / 2;
    }

    // A team's own recommendations.
    if !chart.split.is_empty() {
        y = heading(&mut canvas, "How the members' own answers came out", y)?;
        let most = chart
            .split
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(1)
            .max(1);
        for (label, n) in &chart.split {
            canvas.row_label(label, y, font(26.0, false), 300)?;
            let len = ((bar_w as f64) * f64::from(*n) / f64::from(most)).round() as i32;
            canvas.bar(
                label,
                f64::from(*n),
                (bar_x, y + 12, bar_x + len.max(2), y + ROW - 12),
                OTHER,
            )?;
            canvas.text(
                format!("{n}"),
                (bar_x + len.max(2) + 12, y + ROW / 2),
                text(26.0, true, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
            )?;
            y += ROW;
        }
        y += ROW / 2;
    }

    // Where the team diverged: each question's answers, as counts.
    if !chart.diverged.is_empty() {
        y = heading(&mut canvas, "Where the team diverged", y)?;
        for (question, chosen) in &chart.diverged {
            let style = font(24.0, true);
            let q = fit(canvas.area, question, &style, (right - MARGIN) as u32);
            canvas.text(q, (MARGIN, y + 8), style.color(&INK))?;
            y += ROW;
            let total: u32 = chosen.iter().map(|(_, n)| n).sum::<u32>().max(1);
            let mut x = MARGIN;
            let full = right - MARGIN;
            for (i, (label, n)) in chosen.iter().enumerate() {
                let w = (full as f64 * f64::from(*n) / f64::from(total)).round() as i32;
                let color = if i % 2 == 0 { PICKED } else { OTHER };
                canvas.bar(label, f64::from(*n), (x, y, x + w - 2, y + ROW - 14), color)?;
                let style = font(22.0, false);
                let tag = fit(
                    canvas.area,
                    &format!("{label} {n}"),
                    &style,
                    (w - 12).max(0) as u32,
                );
                if tag.chars().count() > 2 {
                    canvas.text(
                        tag,
                        (x + 8, y + (ROW - 14) / 2),
                        style.color(&WHITE).pos(Pos::new(HPos::Left, VPos::Center)),
                    )?;
                }
                x += w;
            }
            y += ROW;
            let listed = chosen
                .iter()
                .map(|(l, n)| format!("{l} {n}"))
                .collect::<Vec<_>>()
                .join(" · ");
            let style = font(22.0, false);
            let listed = fit(canvas.area, &listed, &style, (right - MARGIN) as u32);
            canvas.text(listed, (MARGIN, y), style.color(&MUTED))?;
            y += ROW;
        }
        y += ROW / 2;
    }

    // A recurring poll's scores across rounds.
    if chart.rounds.len() > 1 {
        y = heading(&mut canvas, "Scores across rounds", y)?;
        let plot = area
            .clone()
            .shrink((MARGIN, y), ((right - MARGIN) as u32, (ROW * 6) as u32));
        trend(&plot, chart)?;
        y += ROW * 6 + ROW / 2;
        // The lines' legend, in words and numbers: "Node.js 64 → 58 → 71".
        for (i, option) in trend_options(chart).iter().enumerate() {
            let color = SERIES[i % SERIES.len()];
            let path = trend_points(chart, option)
                .iter()
                .map(|(_, s)| format!("{}", s.round()))
                .collect::<Vec<_>>()
                .join(" → ");
            let style = font(22.0, true);
            let line = fit(
                canvas.area,
                &format!("{option}: {path}"),
                &style,
                (right - MARGIN - 40) as u32,
            );
            canvas.area.draw(&Rectangle::new(
                [(MARGIN, y + 4), (MARGIN + 24, y + 24)],
                color.filled(),
            ))?;
            canvas.text(line, (MARGIN + 36, y), style.color(&INK))?;
            y += ROW - 10;
        }
        y += ROW / 2;
    }

    let y = y.min(size.1 as i32 - MARGIN - ROW);
    canvas.text(chart.footer.clone(), (MARGIN, y), text(22.0, false, &MUTED))?;
    canvas.area.present()?;
    Ok((y + 30 + MARGIN) as u32)
}

/// Draws on the picture, and notes what it drew where.
struct Canvas<'a, 'b> {
    area: &'b Area<'a>,
    marks: &'b mut Vec<Mark>,
}

impl Canvas<'_, '_> {
    fn text(&mut self, s: String, at: (i32, i32), style: TextStyle) -> Drawn {
        glyphs(self.area, &s, at, &style)?;
        self.marks.push(Mark::Text { text: s, at });
        Ok(())
    }

    /// A row's label at the left margin, cut to `width` pixels, centred on the row at `y`.
    fn row_label(&mut self, label: &str, y: i32, style: FontDesc, width: u32) -> Drawn {
        let name = fit(self.area, label, &style, width);
        self.text(
            name,
            (MARGIN, y + ROW / 2),
            style.color(&INK).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    }

    /// A bar for `label`'s `value`, filled with `color` from its left top to its right
    /// bottom corner.
    fn bar(&mut self, label: &str, value: f64, at: (i32, i32, i32, i32), color: RGBColor) -> Drawn {
        self.area.draw(&Rectangle::new(
            [(at.0, at.1), (at.2, at.3)],
            color.filled(),
        ))?;
        self.marks.push(Mark::Bar {
            label: label.to_owned(),
            value,
            at,
        });
        Ok(())
    }
}

/// Draws `text` as plotters would at `at` with `style`, laying each glyph out with ab_glyph
/// from its pen position and its outline's own bounds. plotters 0.3.7's ab_glyph backend
/// draws each outline from the pen position without the glyph's side bearing, which
/// spaces some letters unevenly ("Node. js").
fn glyphs(area: &Area, text: &str, at: (i32, i32), style: &TextStyle) -> Drawn {
    use ab_glyph::{Font, ScaleFont};
    let bytes = match style.font.get_style() {
        FontStyle::Bold => BOLD,
        _ => REGULAR,
    };
    let font = ab_glyph::FontRef::try_from_slice(bytes)?;
    let size = style.font.get_size() as f32;
    let scaled = font.as_scaled(size);
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        prev = Some(id);
    }
    // Where plotters puts the text's box for this anchor, and the baseline in it.
    let height = size / 1.24;
    let left = match style.pos.h_pos {
        HPos::Left => at.0 as f32,
        HPos::Center => at.0 as f32 - width / 2.0,
        HPos::Right => at.0 as f32 - width,
    };
    let top = match style.pos.v_pos {
        VPos::Top => at.1 as f32,
        VPos::Center => at.1 as f32 - height / 2.0,
        VPos::Bottom => at.1 as f32 - height,
    };
    let baseline = top + size / 2.0;
    let (r, g, b) = style.color.rgb;
    let color = RGBColor(r, g, b);
    let mut pen = left;
    let mut prev = None;
    let mut pixels = Vec::new();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        prev = Some(id);
        // Whole pixels, as plotters places them: crisper, and a smaller PNG.
        let glyph =
            id.with_scale_and_position(size, ab_glyph::point(pen.round(), baseline.round()));
        if let Some(outline) = scaled.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|x, y, coverage| {
                pixels.push((
                    bounds.min.x as i32 + x as i32,
                    bounds.min.y as i32 + y as i32,
                    coverage,
                ))
            });
        }
        pen += scaled.h_advance(id);
    }
    for (x, y, coverage) in pixels {
        if coverage > 0.0 {
            area.draw_pixel(
                (x, y),
                &color.mix(style.color.alpha * f64::from(coverage.min(1.0))),
            )?;
        }
    }
    Ok(())
}

/// A section's heading; returns where its rows start.
fn heading(canvas: &mut Canvas, title: &str, y: i32) -> Drawn<i32> {
    let style = font(24.0, true);
    let title = fit(canvas.area, title, &style, WIDTH - 2 * MARGIN as u32);
    canvas.text(title, (MARGIN, y), style.color(&MUTED))?;
    Ok(y + ROW - 10)
}

/// The options' scores per round, as lines.
fn trend(area: &Area, chart: &Chart) -> Drawn {
    let first = chart.rounds.first().map_or(1, |r| r.0);
    let last = chart.rounds.last().map_or(1, |r| r.0).max(first + 1);
    let mut plot = ChartBuilder::on(area)
        .margin_right(30)
        .margin_bottom(6)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(first..last, 0f64..100f64)?;
    plot.configure_mesh()
        .x_labels((last - first + 1) as usize)
        .y_labels(5)
        .x_label_formatter(&|r| format!("round {r}"))
        .y_label_formatter(&|s| format!("{s:.0}"))
        .label_style(text(20.0, false, &MUTED))
        .light_line_style(TRACK)
        .draw()?;
    for (i, option) in trend_options(chart).iter().enumerate() {
        let color = SERIES[i % SERIES.len()];
        let points = trend_points(chart, option);
        plot.draw_series(LineSeries::new(points.clone(), color.stroke_width(4)))?;
        plot.draw_series(points.iter().map(|p| Circle::new(*p, 6, color.filled())))?;
    }
    Ok(())
}

/// The options of the latest round, in its order.
fn trend_options(chart: &Chart) -> Vec<String> {
    chart
        .rounds
        .last()
        .map(|(_, s)| s.iter().map(|(l, _)| l.clone()).collect())
        .unwrap_or_default()
}

/// One option's score in each round that scored it.
fn trend_points(chart: &Chart, option: &str) -> Vec<(u32, f64)> {
    chart
        .rounds
        .iter()
        .filter_map(|(r, scores)| {
            scores
                .iter()
                .find(|(l, _)| l == option)
                .map(|(_, s)| (*r, *s))
        })
        .collect()
}
