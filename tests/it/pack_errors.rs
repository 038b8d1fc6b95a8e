//! Broken pack files: every kind of mistake stops loading with an error that names the file
//! and the field, so an operator can fix the pack without reading code.

use crate::common;

use std::path::Path;
use tradeoff::core::pack::{parse_pack, PackError};

const DATA: &str = "data/node-vs-python.toml";
const PROMPTS: &str = "prompts/node-vs-python.toml";

/// Parses the shipped pack after `edit_data` and `edit_prompts` change its text.
fn broken(
    edit_data: impl Fn(String) -> String,
    edit_prompts: impl Fn(String) -> String,
) -> PackError {
    let (c, p) = common::shipped_sources();
    let (c2, p2) = (edit_data(c.clone()), edit_prompts(p.clone()));
    assert!(c2 != c || p2 != p, "the edit must change something");
    parse_pack(DATA, &c2, PROMPTS, &p2).expect_err("the broken pack must be refused")
}

fn replace(from: &'static str, to: &'static str) -> impl Fn(String) -> String {
    move |s: String| {
        assert!(s.contains(from), "fixture text {from:?} not found");
        s.replacen(from, to, 1)
    }
}

fn same(s: String) -> String {
    s
}

fn assert_names(e: &PackError, file: &str, field_part: &str) {
    assert_eq!(e.file, file, "{e}");
    assert!(
        e.field.contains(field_part),
        "field {:?} should name {field_part:?}: {e}",
        e.field
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with(file) && shown.contains(field_part),
        "{shown}"
    );
}

#[test]
fn unknown_field_in_criteria_file() {
    let e = broken(
        replace(
            "label = \"Real-time apps\"",
            "label = \"Real-time apps\"\nlabell = \"typo\"",
        ),
        same,
    );
    assert_names(&e, DATA, "labell");
}

#[test]
fn unknown_field_in_prompts_file() {
    let e = broken(
        same,
        replace(
            "id = \"realtime\"\n",
            "id = \"realtime\"\nweigths = { realtime = 1 }\n",
        ),
    );
    assert_names(&e, PROMPTS, "weigths");
}

#[test]
fn syntax_error_names_the_file_and_position() {
    let e = broken(
        same,
        replace(
            "[[questions]]\nid = \"workload\"",
            "[[questions]\nid = \"workload\"",
        ),
    );
    assert_eq!(e.file, PROMPTS);
    let (_, prompts) = common::shipped_sources();
    let at = prompts[..prompts.find("[[questions]]\nid = \"workload\"").unwrap()]
        .matches('\n')
        .count()
        + 1;
    assert!(e.field.contains(&format!("line {at},")), "line {at}: {e}");
}

#[test]
fn weight_on_a_missing_criterion() {
    let e = broken(
        same,
        replace("weights = { realtime = 4,", "weights = { realtimee = 4,"),
    );
    assert_names(
        &e,
        PROMPTS,
        "questions[workload].choices[realtime].weights.realtimee",
    );
    assert!(e.message.contains("no criterion"), "{e}");
}

#[test]
fn rating_for_an_unknown_option() {
    let e = broken(
        replace(
            "ratings = { nodejs = 5, python = 3 }",
            "ratings = { nodejs = 5, python = 3, go = 4 }",
        ),
        same,
    );
    assert_names(&e, DATA, "criteria[io_concurrency].ratings.go");
}

#[test]
fn missing_rating() {
    let e = broken(
        replace(
            "ratings = { nodejs = 5, python = 3 }",
            "ratings = { nodejs = 5 }",
        ),
        same,
    );
    assert_names(&e, DATA, "criteria[io_concurrency].ratings.python");
}

#[test]
fn rating_out_of_range() {
    let e = broken(
        replace(
            "ratings = { nodejs = 5, python = 3 }",
            "ratings = { nodejs = 9, python = 3 }",
        ),
        same,
    );
    assert_names(&e, DATA, "criteria[io_concurrency].ratings.nodejs");
}

#[test]
fn missing_mitigation_for_the_weaker_option() {
    let e = broken(
        replace(
            "mitigations.python = \"Use an async framework",
            "# mitigations.python = \"Use an async framework",
        ),
        same,
    );
    assert_names(&e, DATA, "criteria[io_concurrency].mitigations.python");
}

#[test]
fn duplicate_criterion_id() {
    let e = broken(
        replace("id = \"cpu_compute\"", "id = \"io_concurrency\""),
        same,
    );
    assert_names(&e, DATA, "criteria[io_concurrency].id");
    assert!(e.message.contains("duplicate"), "{e}");
}

#[test]
fn duplicate_option_id() {
    let e = broken(
        replace(
            "id = \"python\"\nlabel = \"Python\"",
            "id = \"nodejs\"\nlabel = \"Python\"",
        ),
        same,
    );
    assert_names(&e, DATA, "options[nodejs].id");
}

#[test]
fn duplicate_question_id() {
    let e = broken(same, replace("id = \"concurrency\"", "id = \"workload\""));
    assert_names(&e, PROMPTS, "questions[workload].id");
}

#[test]
fn duplicate_choice_id() {
    let e = broken(same, replace("id = \"api\"", "id = \"realtime\""));
    assert_names(&e, PROMPTS, "questions[workload].choices[realtime].id");
}

#[test]
fn unknown_choice_id_in_a_condition() {
    let e = broken(
        same,
        replace(
            "ask_if = { ai_ml = [\"some\", \"core\"] }",
            "ask_if = { ai_ml = [\"some\", \"central\"] }",
        ),
    );
    assert_names(&e, PROMPTS, "questions[ml_runtime].ask_if.ai_ml");
    assert!(e.message.contains("central"), "{e}");
}

#[test]
fn condition_on_a_later_or_unknown_question() {
    let e = broken(
        same,
        replace(
            "ask_if = { ai_ml = [\"some\", \"core\"] }",
            "ask_if = { growth = [\"steady\"] }",
        ),
    );
    assert_names(&e, PROMPTS, "questions[ml_runtime].ask_if.growth");
}

#[test]
fn empty_question() {
    // Cut the choices of the last question, "growth".
    let e = broken(same, |p: String| {
        let at = p
            .rfind("[[questions.choices]]\nid = \"steady\"")
            .expect("growth's choices");
        p[..at].to_owned()
    });
    assert_names(&e, PROMPTS, "questions[growth].choices");
}

#[test]
fn empty_question_text() {
    let e = broken(
        same,
        replace(
            "text = \"What will this backend mainly do?\"",
            "text = \"  \"",
        ),
    );
    assert_names(&e, PROMPTS, "questions[workload].text");
}

#[test]
fn unknown_signal() {
    let e = broken(
        same,
        replace(
            "signals = { realtime_layer = 2 }",
            "signals = { realtime_layers = 2 }",
        ),
    );
    assert_names(&e, PROMPTS, "signals.realtime_layers");
}

#[test]
fn blend_naming_a_missing_option() {
    let e = broken(
        replace("option = \"python\"\nrole", "option = \"pyhton\"\nrole"),
        same,
    );
    assert_names(&e, DATA, "blends[hybrid].layers[1].option");
}

#[test]
fn prompts_naming_another_pack() {
    let e = broken(
        same,
        replace("pack = \"node-vs-python\"", "pack = \"node-vs-pyhton\""),
    );
    assert_names(&e, PROMPTS, "pack");
}

#[test]
fn a_choice_may_not_be_a_conversation_command() {
    let e = broken(same, replace("id = \"either\"", "id = \"skip\""));
    assert_names(&e, PROMPTS, "questions[hiring].choices[skip].id");
}

/// Every word the conversation reads as a command is refused in a choice's label or its
/// phrases, not only the command's own name: typing "Stop" or "Not sure" would never
/// select such a choice.
#[test]
fn a_choice_may_not_read_as_any_conversation_command() {
    for label in ["Stop", "Not sure", "Start over", "Undo"] {
        let to = format!("label = \"{label}\"");
        let e = broken(same, move |s: String| {
            s.replacen("label = \"Either, or nobody yet\"", &to, 1)
        });
        assert_names(&e, PROMPTS, "questions[hiring].choices[either].label");
        assert!(e.message.contains("conversation command"), "{e}");
    }
    let e = broken(
        same,
        replace(
            "match = [\"either\", \"nobody\"",
            "match = [\"either\", \"quit\"",
        ),
    );
    assert_names(&e, PROMPTS, "questions[hiring].choices[either].match[1]");
}

#[test]
fn a_label_too_long_for_a_button() {
    let e = broken(same, replace("label = \"Real-time\"", "label = \"Real-time, with an explanation far too long to fit on any chat platform's button\""));
    assert_names(&e, PROMPTS, "questions[workload].choices[realtime].label");
}

/// Loading from disk names the real paths, and a pack without its other half is refused.
#[test]
fn loading_a_directory_names_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("prompts")).unwrap();
    let (c, p) = common::shipped_sources();
    std::fs::write(root.join("data/node-vs-python.toml"), &c).unwrap();
    let e = tradeoff::packs::read_dir(root)
        .expect_err("missing prompts file is refused")
        .to_string();
    assert!(
        e.contains("node-vs-python.toml") && e.contains("prompts"),
        "{e}"
    );

    std::fs::write(
        root.join("prompts/node-vs-python.toml"),
        p.replace("id = \"api\"", "id = \"realtime\""),
    )
    .unwrap();
    let e = tradeoff::packs::read_dir(root)
        .expect_err("broken pack is refused")
        .to_string();
    let path = Path::new(root)
        .join("prompts")
        .join("node-vs-python.toml")
        .display()
        .to_string();
    assert!(
        e.contains(&path) && e.contains("questions[workload].choices[realtime].id"),
        "{e}"
    );

    // A pack whose id disagrees with its file name.
    std::fs::write(root.join("prompts/node-vs-python.toml"), &p).unwrap();
    std::fs::rename(
        root.join("data/node-vs-python.toml"),
        root.join("data/other.toml"),
    )
    .unwrap();
    std::fs::rename(
        root.join("prompts/node-vs-python.toml"),
        root.join("prompts/other.toml"),
    )
    .unwrap();
    let e = tradeoff::packs::read_dir(root)
        .expect_err("id mismatch is refused")
        .to_string();
    assert!(e.contains("other.toml") && e.contains("id"), "{e}");
}

#[test]
fn blend_layer_naming_a_missing_criterion() {
    let e = broken(
        replace("criteria = [\"ai_data\", ", "criteria = [\"ai_dta\", "),
        same,
    );
    assert_names(&e, DATA, "blends[hybrid].layers[1].criteria");
}

#[test]
fn blend_layer_needing_a_missing_signal() {
    let e = broken(
        replace("needs = { ml_layer = 2 }", "needs = { ml_layr = 2 }"),
        same,
    );
    assert_names(&e, DATA, "blends[hybrid].layers[1].needs.ml_layr");
}

#[test]
fn a_blend_rated_below_the_best_needs_a_mitigation() {
    let e = broken(
        replace(
            "mitigations.hybrid = \"Give each half",
            "# mitigations.hybrid = \"Give each half",
        ),
        same,
    );
    assert_names(&e, DATA, "criteria[single_stack].mitigations.hybrid");
}

#[test]
fn a_source_address_that_is_not_http() {
    let e = broken(
        replace(
            "date = \"22 December 2025\"",
            "date = \"22 December 2025\"\nurl = \"softices dot com\"",
        ),
        same,
    );
    assert_names(&e, DATA, "source.url");
}

#[test]
fn an_empty_quote() {
    let e = broken(
        replace(
            "quotes = [\"Learning Curve | Moderate | Easy\"]",
            "quotes = [\" \"]",
        ),
        same,
    );
    assert_names(&e, DATA, "criteria[learning_curve].quotes[0]");
}
