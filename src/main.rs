//! The `kubesim` command. All logic lives in the library; this file only hands over to the CLI.

fn main() -> std::process::ExitCode {
    kubesim::cli::main()
}
