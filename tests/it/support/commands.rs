//! The runner's reading of a step's log, as `actions/runner` does it
//! (`src/Runner.Common/ActionCommand.cs`, `src/Runner.Worker/ActionCommandManager.cs`,
//! `Handlers/OutputManager.cs`): every line is tried as a `::name props::data` command
//! (after trimming leading white space) and then as a legacy `##[name props]data` command
//! found anywhere in the line; only registered names count, case-insensitively;
//! `stop-commands` pauses processing until a line names its token.

/// The commands the runner registers (`IActionCommandExtension.Command` of every extension,
/// plus `stop-commands`).
const REGISTERED: [&str; 15] = [
    "stop-commands",
    "add-mask",
    "add-matcher",
    "add-path",
    "debug",
    "echo",
    "remove-matcher",
    "save-state",
    "set-env",
    "set-output",
    "warning",
    "error",
    "notice",
    "group",
    "endgroup",
];

/// Which syntax a command was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `::name props::data` at the start of the line.
    V2,
    /// `##[name props]data` anywhere in the line.
    Legacy,
}

/// One command the runner processed.
#[derive(Debug, Clone)]
pub struct Processed {
    pub syntax: Syntax,
    pub name: String,
    /// The properties as written (unescaping does not matter to these checks).
    pub props: String,
    pub data: String,
    pub line: String,
}

fn registered(name: &str, token: Option<&str>) -> bool {
    REGISTERED.iter().any(|r| r.eq_ignore_ascii_case(name))
        || token.is_some_and(|t| t.eq_ignore_ascii_case(name))
}

/// `TryParseV2`.
fn parse_v2(line: &str, token: Option<&str>) -> Option<Processed> {
    let message = line.trim_start();
    let rest = message.strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let (name, props) = info.split_once(' ').unwrap_or((info, ""));
    registered(name, token).then(|| Processed {
        syntax: Syntax::V2,
        name: name.to_owned(),
        props: props.to_owned(),
        data: rest[end + 2..].to_owned(),
        line: line.to_owned(),
    })
}

/// `TryParse` (legacy).
fn parse_legacy(line: &str, token: Option<&str>) -> Option<Processed> {
    let start = line.find("##[")? + 3;
    let close = start + line[start..].find(']')?;
    let info = &line[start..close];
    let (name, props) = info.split_once(' ').unwrap_or((info, ""));
    registered(name, token).then(|| Processed {
        syntax: Syntax::Legacy,
        name: name.to_owned(),
        props: props.to_owned(),
        data: line[close + 1..].to_owned(),
        line: line.to_owned(),
    })
}

/// Every command the runner would act on in `log` (stop and resume included), in order.
pub fn processed(log: &str) -> Vec<Processed> {
    let mut out = Vec::new();
    let mut stopped: Option<String> = None;
    // The runner reads lines the way .NET's ReadLine splits them: at CR, LF or CRLF.
    for line in log.split(['\n', '\r']) {
        if !(line.contains("##[") || line.contains("::")) {
            continue;
        }
        let token = stopped.as_deref();
        let Some(cmd) = parse_v2(line, token).or_else(|| parse_legacy(line, token)) else {
            continue;
        };
        match &stopped {
            Some(t) if cmd.name.eq_ignore_ascii_case(t) => {
                stopped = None;
                out.push(cmd);
            }
            Some(_) => {}
            None => {
                if cmd.name.eq_ignore_ascii_case("stop-commands") {
                    stopped = Some(cmd.data.clone());
                }
                out.push(cmd);
            }
        }
    }
    out
}

/// Asserts that `log` holds only the commands stevedore sends on purpose: annotations,
/// groups, debug lines, masks, and fences with a fresh random token that are always
/// closed. Anything else (a `set-output`, a legacy `##[` command, a fence a file name
/// opened) is an injection.
pub fn assert_only_intended_commands(log: &str) {
    let commands = processed(log);
    let mut open: Option<String> = None;
    for cmd in &commands {
        assert_eq!(
            cmd.syntax,
            Syntax::V2,
            "stevedore never writes `##[`: injected {cmd:?}"
        );
        assert!(
            cmd.line.starts_with("::"),
            "stevedore's commands start their line: {cmd:?}"
        );
        let name = cmd.name.as_str();
        if let Some(token) = &open {
            assert_eq!(name, token, "only the fence's token resumes: {cmd:?}");
            open = None;
            continue;
        }
        match name {
            "stop-commands" => {
                assert!(
                    cmd.data.len() == 32 && cmd.data.bytes().all(|b| b.is_ascii_hexdigit()),
                    "a fence opened by something other than a random token: {cmd:?}"
                );
                open = Some(cmd.data.clone());
            }
            "warning" | "error" => {
                // Properties are stevedore's own keys; a name can only be a value.
                for prop in cmd.props.split(',').filter(|p| !p.is_empty()) {
                    let key = prop.split('=').next().unwrap_or_default();
                    assert!(
                        ["title", "file", "line"].contains(&key),
                        "unexpected property `{key}`: {cmd:?}"
                    );
                }
            }
            "group" | "endgroup" | "debug" | "add-mask" => {}
            other => panic!("unexpected command `{other}`: {cmd:?}"),
        }
    }
    assert!(open.is_none(), "a fence was left open: {open:?}");
}
