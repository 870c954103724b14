fn main() {
    std::process::exit(conda_connect::cli::main());
}
