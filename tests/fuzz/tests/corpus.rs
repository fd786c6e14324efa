//! Replays every input in `corpus/<target>/` (the seeds, and every crash libFuzzer
//! ever found, kept there as a regression test) through its target.

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, target) in rotor_fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a corpus entry").path())
            .collect();
        inputs.sort();
        assert!(inputs.len() >= 3, "{name}: the seed corpus is missing");
        for input in inputs {
            let data = std::fs::read(&input).expect("a corpus file");
            target(&data);
        }
    }
}
