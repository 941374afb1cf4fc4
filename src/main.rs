//! The `reach` binary: parse arguments, run, map errors to exit codes in one place.

use std::process::ExitCode;

use clap::Parser;

#[macro_use]
mod cli;
mod repl;
mod serve;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
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
    // The command layer runs the command; the REPL, when that is what was asked for, sits
    // on top of it.
    let result = match cli::run(cli) {
        Ok(cli::Next::Repl(mut ctx)) => repl::run(&mut ctx),
        Ok(cli::Next::Script(mut ctx, script)) => repl::run_script(&mut ctx, &script),
        Ok(cli::Next::Done) => Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) | Err(reach::Error::Closed) => ExitCode::SUCCESS,
        Err(e) => {
            let message = cli::output::paint_error(&format!("error: {e}"));
            cli::output::note(format_args!("{message}\n"));
            ExitCode::from(e.exit_code())
        }
    }
}
