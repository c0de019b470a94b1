//! `<CONTAINER> HELP` replies in Redis's `addReplyHelp` format.

use crate::resp::Out;

/// Replies with Redis's help layout: a header naming the container, the
/// given lines, then the HELP entry every container has.
pub fn reply_help(out: &mut Out, container: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}
