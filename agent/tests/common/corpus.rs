//! Where the test corpus is: `tests/corpus/` of this repository, or the folder named by
//! `PLAINSIGHT_CORPUS`. No default reaches outside the repository, so a bare clone
//! tests exactly what it holds. Included with `#[path]` by every reader (unit tests,
//! integration tests, benches), which are separate crates.

use std::path::{Path, PathBuf};

/// The corpus folder (the one holding `INDEX.tsv`).
pub fn corpus_root() -> PathBuf {
    std::env::var_os("PLAINSIGHT_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus"),
        PathBuf::from,
    )
}

/// A file of the corpus, or a panic naming it: a corpus test never passes by skipping.
#[allow(dead_code)] // not every includer reads single files
pub fn corpus_file(rel: &str) -> PathBuf {
    let p = corpus_root().join(rel);
    assert!(
        p.is_file(),
        "corpus file missing: {} (tests/corpus/ is part of the repository; PLAINSIGHT_CORPUS overrides it)",
        p.display()
    );
    p
}
