//! The `joist` binary. Kept tiny: argument parsing and dispatch live in [`cli`].
mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
