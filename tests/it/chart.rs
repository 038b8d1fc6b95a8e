//! Result charts, decoded: the PNG is read back, its size checked, and every bar and label
//! the renderer says it drew is found in the pixels where it says, with bar lengths in
//! proportion to their numbers. The extremes are drawn too: many criteria, long labels, a
//! three-option pack, a 0/100 split.

use crate::common;

use tradeoff::chart::{drawing, Drawing, Mark};
use tradeoff::core::chart::{Chart, MOST_MOVED};
use tradeoff::core::score::{evaluate, Moved};

/// The decoded picture: width, height, RGB rows.
struct Pixels {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

fn decode(png: &[u8]) -> Pixels {
    let decoder = png::Decoder::new(png);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).expect("one frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    Pixels {
        width: info.width,
        height: info.height,
        rgb,
    }
}

impl Pixels {
    fn at(&self, x: i32, y: i32) -> [u8; 3] {
        let i = ((y as u32 * self.width + x as u32) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Whether anything darker than the background is drawn in the box.
    fn inked(&self, x0: i32, y0: i32, x1: i32, y1: i32) -> bool {
        (y0.max(0)..y1.min(self.height as i32)).any(|y| {
            (x0.max(0)..x1.min(self.width as i32)).any(|x| {
                let [r, g, b] = self.at(x, y);
                u32::from(r) + u32::from(g) + u32::from(b) < 3 * 160
            })
        })
    }
}

/// Checks what `drawing` says it drew against its pixels; returns the decoded picture.
/// With `TRADEOFF_CHART_OUT=DIR`, the picture is also written to `DIR/NAME.png`, to look at.
fn check(name: &str, drawing: &Drawing) -> Pixels {
    if let Ok(dir) = std::env::var("TRADEOFF_CHART_OUT") {
        std::fs::write(format!("{dir}/{name}.png"), &drawing.png).unwrap();
    }
    let pixels = decode(&drawing.png);
    assert_eq!(
        (pixels.width, pixels.height),
        (drawing.width, drawing.height)
    );
    assert_eq!(pixels.width, 1200);
    assert!(
        (200..4000).contains(&pixels.height),
        "height {}",
        pixels.height
    );
    assert!(
        drawing.png.len() < 150 * 1024,
        "{} bytes",
        drawing.png.len()
    );
    for mark in &drawing.marks {
        match mark {
            Mark::Bar { label, at, .. } => {
                let (x0, y0, x1, y1) = *at;
                assert!(x1 > x0 && y1 > y0, "{label}: {at:?}");
                let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
                let [r, g, b] = pixels.at(cx, cy);
                assert_ne!([r, g, b], [0xfa, 0xfa, 0xf7], "{label}: no bar at {at:?}");
            }
            Mark::Text { text, at } => {
                assert!(!text.is_empty());
                assert!(
                    pixels.inked(at.0, at.1 - 4, at.0 + 40, at.1 + 40),
                    "{text:?}: nothing written at {at:?}"
                );
                assert!(at.0 >= 0 && at.0 < 1200, "{text:?} at {at:?}");
            }
        }
    }
    pixels
}

fn bars(drawing: &Drawing) -> Vec<(String, f64, i32)> {
    drawing
        .marks
        .iter()
        .filter_map(|m| match m {
            Mark::Bar { label, value, at } => Some((label.clone(), *value, at.2 - at.0)),
            _ => None,
        })
        .collect()
}

fn texts(drawing: &Drawing) -> Vec<String> {
    drawing
        .marks
        .iter()
        .filter_map(|m| match m {
            Mark::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_decisions_chart_shows_the_scores_with_their_numbers_and_what_moved_them() {
    let pack = common::shipped();
    let answers = common::answers(
        &pack,
        &[
            ("workload", "realtime"),
            ("concurrency", "high"),
            ("team_skills", "python"),
            ("security", "strict"),
        ],
    );
    let outcome = evaluate(&pack, &answers);
    let chart = Chart::of_decision(&pack, 3, &outcome);
    let drawn = drawing(&chart).unwrap();
    check("decision", &drawn);
    let texts = texts(&drawn);
    assert_eq!(texts[0], chart.headline);
    assert!(chart.headline.starts_with("Node.js "), "{}", chart.headline);
    for (_, label, score) in &outcome.scores {
        assert!(texts.contains(label), "{label} in {texts:?}");
        assert!(texts.contains(&format!("{}", score.round())), "{score}");
    }
    assert!(texts.iter().any(|t| t.contains("pack node-vs-python v3")));

    // Score bars in proportion to the scores (0–100 over the same track).
    let bars = bars(&drawn);
    let scored: Vec<_> = bars.iter().take(outcome.scores.len()).collect();
    let track = 1200 - 40 - 90 - (40 + 400);
    for (label, value, len) in &scored {
        let want = (f64::from(track) * value / 100.0).round() as i32;
        assert!((len - want).abs() <= 2, "{label}: {len} px for {value}");
    }
    // What moved it: one signed bar per criterion weighed, largest first, lengths in
    // proportion to the points, the lead's to the right.
    let moved: Vec<_> = bars[outcome.scores.len()..].to_vec();
    assert_eq!(moved.len(), outcome.moved.by.len().min(MOST_MOVED));
    assert!(!moved.is_empty());
    for pair in moved.windows(2) {
        assert!(pair[0].1.abs() >= pair[1].1.abs(), "{moved:?}");
        let ratio = pair[1].1.abs() / pair[0].1.abs();
        let px = f64::from(pair[1].2) / f64::from(pair[0].2);
        assert!((ratio - px).abs() < 0.02, "{moved:?}");
    }
    assert!(moved.iter().any(|m| m.1 > 0.0) && moved.iter().any(|m| m.1 < 0.0));
    for (label, points, _) in &moved {
        let shown = if *points >= 0.0 {
            format!("+{points:.1}")
        } else {
            format!("{points:.1}")
        };
        assert!(texts.contains(&shown), "{label}: {shown} in {texts:?}");
    }
}

#[test]
fn the_extremes_draw_within_the_picture() {
    let long = "A criterion with a label far longer than any column could hold, and then some";
    let many: Vec<(String, f64)> = (0..20)
        .map(|i| (format!("{long} {i}"), f64::from(20 - i) - 10.5))
        .collect();
    let chart = Chart {
        headline: format!("{long} 100 / Other 0"),
        verdict: "Recommendation: the first · confidence high".into(),
        scores: vec![
            (long.to_owned(), 100.0, true),
            ("Other".into(), 0.0, false),
            ("Third".into(), 50.0, false),
        ],
        moved: Moved {
            lead: long.into(),
            rival: "Other".into(),
            by: many,
        },
        split: vec![(long.into(), 12), ("Other".into(), 0)],
        diverged: vec![(
            format!("{long}?"),
            vec![("Mostly this".into(), 99), ("A sliver".into(), 1)],
        )],
        rounds: vec![
            (1, vec![("A".into(), 0.0), ("B".into(), 100.0)]),
            (2, vec![("A".into(), 100.0), ("B".into(), 0.0)]),
            (3, vec![("A".into(), 50.0), ("B".into(), 50.0)]),
        ],
        footer: "12 teammates answered · pack test".into(),
    };
    let drawn = drawing(&chart).unwrap();
    check("extremes", &drawn);
    let texts = texts(&drawn);
    assert!(
        texts.iter().any(|t| t.ends_with('…')),
        "long labels are cut"
    );
    assert!(texts.contains(&format!("and {} more", 20 - MOST_MOVED)));
    let bars = bars(&drawn);
    let zero = bars.iter().find(|b| b.0 == "Other" && b.1 == 0.0).unwrap();
    assert!(zero.2 <= 2, "a 0 is a sliver, not a bar: {zero:?}");
    let full = bars.iter().find(|b| b.0 == long && b.1 == 100.0).unwrap();
    assert_eq!(full.2, 1200 - 40 - 90 - (40 + 400), "100 fills the track");
}

#[test]
fn a_three_option_packs_chart_names_its_options() {
    let root = common::fixture_root();
    let sources = tradeoff::packs::read_dir(&root).unwrap();
    let pack = sources
        .iter()
        .map(|(_, p)| p)
        .find(|p| p.id.as_str() == "queue-choice")
        .unwrap();
    let answers = common::answers(pack, &[("volume", "high"), ("replay", "yes")]);
    let outcome = evaluate(pack, &answers);
    let chart = Chart::of_decision(pack, 1, &outcome);
    let drawn = drawing(&chart).unwrap();
    check("three-options", &drawn);
    let texts = texts(&drawn);
    for option in ["Kafka", "RabbitMQ", "SQS"] {
        assert!(texts.iter().any(|t| t == option), "{option} in {texts:?}");
    }
}

#[test]
fn a_team_polls_chart_adds_the_split_the_divergence_and_the_rounds() {
    use tradeoff::core::poll::RoundSummary;
    use tradeoff::core::tally::{team_outcome, Tally};
    let pack = common::shipped();
    let mut tally = Tally::new(&pack);
    for (workload, skills) in [
        ("realtime", "javascript"),
        ("realtime", "javascript"),
        ("data_ml", "python"),
        ("data_ml", "python"),
        ("api", "both"),
    ] {
        tally.add(
            &pack,
            &common::answers(&pack, &[("workload", workload), ("team_skills", skills)]),
        );
    }
    let team = team_outcome(&pack, &tally);
    let earlier = RoundSummary {
        round: 1,
        recommendation: Some("python".into()),
        recommendation_label: "Python".into(),
        scores: vec![("Node.js".into(), 48.0), ("Python".into(), 61.0)],
        weights: Vec::new(),
        respondents: 4,
        closed_at: 0,
    };
    let chart = Chart::of_team(&pack, 2, &team, &tally, &[earlier], Some(2));
    assert_eq!(chart.rounds.len(), 2);
    assert!(!chart.split.is_empty() && !chart.diverged.is_empty());
    let drawn = drawing(&chart).unwrap();
    check("team", &drawn);
    let texts = texts(&drawn);
    assert!(
        texts.contains(&"Scores across rounds".to_owned()),
        "{texts:?}"
    );
    assert!(texts.contains(&"Where the team diverged".to_owned()));
    for (label, n) in &chart.split {
        assert!(
            texts.contains(label) && texts.contains(&n.to_string()),
            "{label}"
        );
    }
    assert!(
        texts.iter().any(|t| t.starts_with("Node.js: 48 → ")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("5 teammates answered")));
}
