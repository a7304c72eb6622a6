//! Criterion micro-benchmarks; see `benches/`. Nothing to link: the library only anchors the
//! package.
