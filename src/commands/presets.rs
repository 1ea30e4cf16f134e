//! `attnstep presets`: the model presets, as a table or JSON.

use std::io::Write;

use anyhow::Result;

use crate::cli::PresetsArgs;
use crate::error;

pub fn run(args: &PresetsArgs) -> Result<()> {
    let mut out = error::stdout();
    if args.json {
        serde_json::to_writer_pretty(&mut out, crate::presets::PRESETS)?;
        writeln!(out)?;
    } else {
        crate::render::report::write_presets(&mut out)?;
    }
    out.flush()?;
    Ok(())
}
