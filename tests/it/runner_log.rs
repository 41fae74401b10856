//! The runner's reading of a step's log (`support::commands`): the parser reads both
//! syntaxes and fences as `actions/runner` does.

use crate::support::commands::{Syntax, processed};

#[test]
fn the_parser_reads_both_syntaxes_and_fences() {
    let log = "plain\n  ::warning::a\nx ##[set-output name=y;]z\n::stop-commands::tok\n::error::hidden\n##[tok]\n##[debug]after\n";
    let got: Vec<(Syntax, String)> = processed(log)
        .into_iter()
        .map(|c| (c.syntax, c.name))
        .collect();
    assert_eq!(
        got,
        [
            (Syntax::V2, "warning".to_owned()),
            (Syntax::Legacy, "set-output".to_owned()),
            (Syntax::V2, "stop-commands".to_owned()),
            (Syntax::Legacy, "tok".to_owned()),
            (Syntax::Legacy, "debug".to_owned()),
        ]
    );
}
