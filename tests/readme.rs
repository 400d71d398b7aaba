//! The README's worked example of a custom plugin is the real source of `src/scheduler/plugins/node_cost.rs`
//! (so it compiles and is tested), and its registry line is the real one.

#[test]
fn the_custom_plugin_example_is_the_real_source() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let source = std::fs::read_to_string("src/scheduler/plugins/node_cost.rs").expect("node_cost.rs");
    let code = source.split("#[cfg(test)]").next().expect("source").trim_end();
    assert!(readme.contains(&format!("```rust\n{code}\n```")), "README's NodeCost example differs from the file");
    let registry = std::fs::read_to_string("src/scheduler/registry.rs").expect("registry.rs");
    let line = "    reg(\"NodeCost\", |_| Box::new(node_cost::NodeCost)),";
    assert!(registry.contains(line) && readme.contains(line), "the registry line in the README must be the real one");
}
