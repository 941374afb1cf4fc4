//! The `reach` binary: parse arguments, run, map errors to exit codes in one place.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match reach::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match reach::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{}",
                reach::cli::output::paint_error(&format!("error: {e}"))
            );
            ExitCode::from(e.exit_code())
        }
    }
}
