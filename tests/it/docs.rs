//! The action's interface agrees everywhere it is written down: `action.yml`, the README
//! tables, and the binary's input table; and `action.yml` keeps its safety rules.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Yaml {
    let text = fs::read_to_string(root().join(path)).expect("read yaml");
    YamlLoader::load_from_str(&text)
        .expect("valid yaml")
        .remove(0)
}

fn map_keys(y: &Yaml) -> Vec<String> {
    y.as_hash()
        .expect("mapping")
        .keys()
        .map(|k| k.as_str().expect("string key").to_owned())
        .collect()
}

/// Rows of the README table under `## {heading}`: first cell -> second cell.
fn readme_table(heading: &str) -> BTreeMap<String, String> {
    let readme = fs::read_to_string(root().join("README.md")).expect("README");
    let section = readme
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .expect("section");
    let mut rows = BTreeMap::new();
    for line in section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let name = cells[0].trim_matches('`').to_owned();
        rows.insert(name, cells.get(1).copied().unwrap_or_default().to_owned());
    }
    rows
}

#[test]
fn inputs_agree_across_action_readme_and_binary() {
    let action = yaml("action.yml");
    let inputs = &action["inputs"];
    let mut in_action = map_keys(inputs);
    let mut in_binary: Vec<String> = stevedore::config::INPUTS
        .iter()
        .map(|s| s.name.to_owned())
        .collect();
    let readme = readme_table("Inputs");
    let mut in_readme: Vec<String> = readme.keys().cloned().collect();
    in_action.sort();
    in_binary.sort();
    in_readme.sort();
    assert_eq!(
        in_action, in_binary,
        "action.yml inputs vs the binary's input table"
    );
    assert_eq!(
        in_readme, in_binary,
        "README inputs table vs the binary's input table"
    );

    for name in &in_action {
        let spec = &inputs[name.as_str()];
        assert!(
            spec["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}: no description"
        );
        let documented = &readme[name];
        let action_default = spec["default"].as_str();
        if documented == "required" {
            assert_eq!(
                spec["required"].as_bool(),
                Some(true),
                "{name}: README says required"
            );
        } else if let Some(literal) = documented
            .strip_prefix('`')
            .and_then(|d| d.strip_suffix('`'))
            .filter(|d| !d.contains('`'))
        {
            assert_eq!(
                action_default,
                Some(literal),
                "{name}: README default `{literal}` vs action.yml"
            );
        } else {
            assert_eq!(
                action_default, None,
                "{name}: README describes the default ({documented}); action.yml must leave it to the binary"
            );
        }
    }
}

#[test]
fn outputs_agree_across_action_and_readme() {
    let action = yaml("action.yml");
    let outputs = &action["outputs"];
    let mut in_action = map_keys(outputs);
    let mut in_readme: Vec<String> = readme_table("Outputs").keys().cloned().collect();
    in_action.sort();
    in_readme.sort();
    assert_eq!(in_action, in_readme);
    for name in &in_action {
        assert_eq!(
            outputs[name.as_str()]["value"].as_str(),
            Some(format!("${{{{ steps.run.outputs.{name} }}}}").as_str()),
            "{name}"
        );
    }
}

#[test]
fn action_passes_inputs_through_env_only_and_pins_actions() {
    let action = yaml("action.yml");
    let steps = action["runs"]["steps"].as_vec().expect("steps");
    let run = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("run"))
        .expect("run step");
    for spec in stevedore::config::INPUTS {
        let var = format!("INPUT_{}", spec.name.to_uppercase().replace('-', "_"));
        assert_eq!(
            run["env"][var.as_str()].as_str(),
            Some(format!("${{{{ inputs.{} }}}}", spec.name).as_str()),
            "{var}"
        );
    }
    for step in steps {
        if let Some(script) = step["run"].as_str() {
            assert!(
                !script.contains("${{"),
                "expressions must not be interpolated into run: {script}"
            );
        }
    }

    let mut files = vec![
        fs::read_to_string(root().join("action.yml")).expect("action.yml"),
        fs::read_to_string(root().join("download/action.yml")).expect("download/action.yml"),
    ];
    for entry in fs::read_dir(root().join(".github/workflows")).expect("workflows") {
        files.push(fs::read_to_string(entry.expect("entry").path()).expect("workflow"));
    }
    for text in files {
        for line in text.lines().map(str::trim) {
            let Some(uses) = line
                .strip_prefix("uses: ")
                .or_else(|| line.strip_prefix("- uses: "))
            else {
                continue;
            };
            if uses == "./" || uses == "./download" {
                continue;
            }
            let (_, rest) = uses
                .split_once('@')
                .unwrap_or_else(|| panic!("unpinned: {line}"));
            let sha = rest.split_whitespace().next().unwrap_or_default();
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "not pinned by full SHA: {line}"
            );
            assert!(
                rest.contains("# v"),
                "pin without a version comment: {line}"
            );
        }
    }
}

/// The download sub-action (`uses: OWNER/stevedore/download@v1`): download-artifact v8's
/// inputs, each reaching the binary only as `INPUT_*` through `env:`, no expression inside
/// a `run:` body, the main action's installer, and every output the binary writes declared.
#[test]
fn download_action_passes_inputs_through_env_only() {
    let action = yaml("download/action.yml");
    let mut inputs = map_keys(&action["inputs"]);
    inputs.sort();
    let mut expected = [
        "name",
        "artifact-ids",
        "pattern",
        "path",
        "merge-multiple",
        "github-token",
        "repository",
        "run-id",
        "digest-mismatch",
    ];
    expected.sort_unstable();
    assert_eq!(inputs, expected, "download/action.yml inputs");
    let mut in_binary: Vec<&str> = stevedore::download::DOWNLOAD_INPUTS
        .iter()
        .map(|s| s.name)
        .collect();
    in_binary.sort_unstable();
    assert_eq!(
        inputs, in_binary,
        "download/action.yml vs stevedore download's input table"
    );
    // The defaults download-artifact v8 declares (its action.yml at 484a0b52).
    for (name, default) in [
        ("merge-multiple", "false"),
        ("repository", "${{ github.repository }}"),
        ("run-id", "${{ github.run_id }}"),
        ("digest-mismatch", "error"),
    ] {
        assert_eq!(
            action["inputs"][name]["default"].as_str(),
            Some(default),
            "{name}"
        );
    }

    let steps = action["runs"]["steps"].as_vec().expect("steps");
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("step {id}"))
    };
    let run = step("run");
    let mut passed: Vec<String> = map_keys(&run["env"])
        .into_iter()
        .filter(|k| k.starts_with("INPUT_"))
        .collect();
    passed.sort();
    let mut wanted: Vec<String> = inputs
        .iter()
        .map(|n| format!("INPUT_{}", n.to_uppercase().replace('-', "_")))
        .collect();
    wanted.sort();
    assert_eq!(passed, wanted);
    for name in &inputs {
        let var = format!("INPUT_{}", name.to_uppercase().replace('-', "_"));
        assert_eq!(
            run["env"][var.as_str()].as_str(),
            Some(format!("${{{{ inputs.{name} }}}}").as_str()),
            "{var}"
        );
    }
    assert_eq!(run["run"].as_str(), Some(r#""$STEVEDORE_BIN" download"#));
    for step in steps {
        if let Some(script) = step["run"].as_str() {
            assert!(
                !script.contains("${{"),
                "expressions must not be interpolated into run: {script}"
            );
        }
    }
    // The same installer as the main action, found from the action's root.
    let install = step("install")["run"].as_str().expect("install script");
    assert!(
        install.contains(r#"root="$GITHUB_ACTION_PATH/..""#)
            && install.contains(r#"GITHUB_ACTION_PATH=$root bash "$root/dist/install.sh""#),
        "{install}"
    );

    for name in ["download-path", "artifacts", "files", "bytes"] {
        assert_eq!(
            action["outputs"][name]["value"].as_str(),
            Some(format!("${{{{ steps.run.outputs.{name} }}}}").as_str()),
            "output {name}"
        );
    }
}
