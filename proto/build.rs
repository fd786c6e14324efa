//! Generates the gRPC code from `proto/` with a pure-Rust protobuf compiler (protox),
//! so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/rotor/v1/partition.proto",
        "proto/rotor/v1/cluster.proto",
        "proto/rotor/v1/snapshot.proto",
        "proto/rotor/v1/model.proto",
        "proto/rotor/v1/metadata.proto",
        "proto/rotor/v1/raft.proto",
        "proto/rotor/v1/changes.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    // Maps decode into BTreeMaps: ordered, as the model's are.
    tonic_prost_build::configure()
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
