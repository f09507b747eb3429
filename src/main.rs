//! The `sandtable` command line: `cli/` parses arguments, calls the `sandtable` library (which
//! wires the Bevy environment to the candle agent) and prints.

mod allocator;
mod cli;
mod file_limit;
mod runtime_dir;

use clap::Parser;

fn main() -> std::process::ExitCode {
    allocator::tune();
    file_limit::raise();
    runtime_dir::ensure();
    let args = cli::Cli::parse();
    init_logging(args.verbose);
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: the whole context chain, outermost first.
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // Bevy's notes about features lavapipe lacks (OIT, SSAO, software adapter) are expected here.
        0 => "warn,sandtable=info,sandtable_env=info,sandtable_agent=info,bevy_render=error,bevy_pbr=error,bevy_core_pipeline=error",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: a log redirected to a file stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(ansi).init();
}
