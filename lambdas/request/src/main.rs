//! The hitl request function. A skeleton until the approval protocol lands (lambdas/core holds its
//! logic); the workspace, the templates and the build already treat it as a real function.

fn main() {
    eprintln!("hitl-request: not implemented yet");
    std::process::exit(1);
}
