//! Generates the gRPC code from `proto/` with a pure-Rust protobuf compiler (protox),
//! so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/rotor/v1/partition.proto",
        "proto/rotor/v1/cluster.proto",
        "proto/rotor/v1/snapshot.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
