//! `attnstep bugs`: the slips `--bug NAME` plants, each with its symptom; `--explain` adds
//! what the slip is, the stage where it first shows and the MiniMind line it breaks (the
//! answers of a bug hunt, so only when asked).

use std::io::Write;

use anyhow::Result;

use crate::bugs::Bug;
use crate::cli::BugsArgs;
use crate::error;
use crate::render::wrap_words;

pub fn run(args: &BugsArgs) -> Result<()> {
    let mut out = error::stdout();
    write_list(&mut out, args.explain)?;
    out.flush()?;
    Ok(())
}

/// The list, as `attnstep bugs` prints it.
pub fn write_list(out: &mut dyn Write, explain: bool) -> std::io::Result<()> {
    writeln!(
        out,
        "Slips attnstep can plant in MiniMind's attention: `attnstep run --bug NAME`, \
         `attnstep lesson NAME --bug NAME`, `attnstep export --bug NAME`."
    )?;
    if explain {
        writeln!(
            out,
            "Each with what it is, where it first shows, and the line it breaks.\n"
        )?;
    } else {
        writeln!(
            out,
            "Each with the symptom to hunt for; `attnstep bugs --explain` gives the answers.\n"
        )?;
    }
    let width = Bug::ALL.iter().map(|b| b.name().len()).max().unwrap_or(0);
    for bug in Bug::ALL {
        writeln!(out, "  {:<width$}  {}", bug.name(), bug.symptom())?;
        if !explain {
            continue;
        }
        let indent = "    ";
        let text = format!("{indent}{}", bug.explanation());
        write!(out, "{}", wrap_words(&text, 96, indent))?;
        let shape = if bug.silent_in_shape() {
            "every shape stays right, only numbers change"
        } else {
            "breaks a shape"
        };
        writeln!(
            out,
            "{indent}first shows at: {} ({shape})",
            bug.first_stage()
        )?;
        // Code lines stay whole, to be found in (or pasted beside) model_minimind.py.
        let line = bug.line();
        writeln!(out, "{indent}MiniMind ({}):", line.place())?;
        writeln!(out, "{indent}  {}", line.code())?;
        writeln!(out, "{indent}planted:")?;
        writeln!(out, "{indent}  {}", bug.slip_code())?;
        writeln!(out)?;
    }
    Ok(())
}
