//! The `attnstep` binary: parse, dispatch, map errors to exit statuses.

use clap::Parser;

fn main() {
    let cli = attnstep::cli::Cli::parse();
    if let Err(err) = attnstep::app::run(cli) {
        let code = attnstep::app::exit_code(&err);
        if code != 0 {
            eprintln!("attnstep: error: {err:#}");
        }
        std::process::exit(code);
    }
}
