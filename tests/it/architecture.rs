//! The layout rules ARCHITECTURE.md states, checked on the source: no two files of `src/`
//! import each other, directly or through others. Files are parsed with `syn`; an edge is a
//! `use` or a path (`crate::…`, `super::…`, `self::…`, or a child module's name) that
//! resolves to another file. Test code (`#[cfg(test)]` modules and files) is left out:
//! a test may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module path inside the crate (`["stage", "id"]`); the crate root is empty.
type ModPath = Vec<String>;

/// Every file of the library under `root` by its module path (`main.rs` is the binary, a crate
/// of its own that uses the library by name).
fn modules(root: &Path) -> BTreeMap<ModPath, PathBuf> {
    fn walk(root: &Path, dir: &Path, prefix: &ModPath, out: &mut BTreeMap<ModPath, PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut p = prefix.clone();
                p.push(name);
                walk(root, &path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") && path != root.join("main.rs") {
                let mut p = prefix.clone();
                if !matches!(name.as_str(), "mod" | "lib" | "main") {
                    p.push(name);
                }
                out.insert(p, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &Vec::new(), &mut out);
    out
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The paths one file names, and the child modules it declares for tests only.
#[derive(Default)]
struct Names {
    paths: Vec<Vec<String>>,
    test_children: Vec<String>,
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if is_cfg_test(&m.attrs) {
            if m.content.is_none() {
                self.test_children.push(m.ident.to_string());
            }
            return;
        }
        syn::visit::visit_item_mod(self, m);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        fn expand(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            match tree {
                syn::UseTree::Path(p) => {
                    prefix.push(p.ident.to_string());
                    expand(&p.tree, prefix, out);
                    prefix.pop();
                }
                syn::UseTree::Name(n) => out.push(with(prefix, n.ident.to_string())),
                syn::UseTree::Rename(r) => out.push(with(prefix, r.ident.to_string())),
                syn::UseTree::Glob(_) => out.push(prefix.clone()),
                syn::UseTree::Group(g) => g.items.iter().for_each(|t| expand(t, prefix, out)),
            }
        }
        fn with(prefix: &[String], last: String) -> Vec<String> {
            let mut p = prefix.to_vec();
            p.push(last);
            p
        }
        if !is_cfg_test(&u.attrs) {
            expand(&u.tree, &mut Vec::new(), &mut self.paths);
        }
    }

    /// `pub(super)` and `pub(in crate::x)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.paths
            .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }
}

/// The file a path names from module `from`, if it names one other than `from`'s own.
fn resolve(path: &[String], from: &ModPath, files: &BTreeMap<ModPath, PathBuf>) -> Option<ModPath> {
    let (mut base, rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.clone(), &path[1..]),
        Some("super") => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            let keep = from.len().checked_sub(supers)?;
            (from[..keep].to_vec(), &path[supers..])
        }
        Some(first) => {
            let mut child = from.clone();
            child.push(first.to_owned());
            if !files.contains_key(&child) {
                return None;
            }
            (from.clone(), path)
        }
        None => return None,
    };
    // The longest prefix of the path that is a file.
    let mut found = files.contains_key(&base).then(|| base.clone());
    for seg in rest {
        base.push(seg.clone());
        if files.contains_key(&base) {
            found = Some(base.clone());
        }
    }
    found.filter(|f| f != from)
}

/// Edges between the non-test files of `src/`.
fn import_graph(root: &Path) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut files = modules(root);
    let mut names = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut n = Names::default();
        n.visit_file(&ast);
        names.insert(module.clone(), n);
    }
    for (module, n) in &names {
        for child in &n.test_children {
            let mut p = module.clone();
            p.push(child.clone());
            files.remove(&p);
        }
    }
    let mut graph = BTreeMap::new();
    for (module, n) in names {
        if !files.contains_key(&module) {
            continue;
        }
        let targets = n
            .paths
            .iter()
            .filter_map(|p| resolve(p, &module, &files))
            .collect();
        graph.insert(module, targets);
    }
    graph
}

/// A cycle through the graph, as module paths, if there is one.
fn find_cycle(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Option<Vec<ModPath>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn dfs(
        node: &ModPath,
        graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        marks: &mut BTreeMap<ModPath, Mark>,
        stack: &mut Vec<ModPath>,
    ) -> Option<Vec<ModPath>> {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let at = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(c) = dfs(next, graph, marks, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if !marks.contains_key(node)
            && let Some(c) = dfs(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn shown(cycle: &[ModPath]) -> String {
    cycle
        .iter()
        .map(|m| format!("crate::{}", m.join("::")))
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[test]
fn no_file_in_src_imports_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    assert!(graph.len() > 50, "only {} files found in src/", graph.len());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle between files: {}", shown(&cycle));
    }
}

/// The checker itself: a cycle planted in a tiny tree is found, and one through a test module
/// is not.
#[test]
fn the_cycle_check_finds_a_planted_cycle_and_ignores_tests() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "mod a;\nmod b;\n#[cfg(test)]\nmod t;\n");
    write("a/mod.rs", "mod inner;\nuse inner::X;\npub struct Y;\n");
    write(
        "a/inner.rs",
        "pub struct X;\nfn f() -> super::Y { super::Y }\n",
    );
    write(
        "b.rs",
        "pub(super) fn f() {}\n#[cfg(test)]\nmod tests { use crate::a::Y; }\n",
    );
    write("t.rs", "pub struct Z;\nuse crate::b;\n");
    let graph = import_graph(dir.path());
    let cycle = find_cycle(&graph).expect("a/mod.rs and a/inner.rs import each other");
    assert_eq!(shown(&cycle), "crate::a -> crate::a::inner -> crate::a");
    assert!(
        !graph.contains_key(&vec!["t".to_owned()]),
        "t.rs is test-only"
    );
    assert!(
        graph[&vec!["b".to_owned()]].is_empty(),
        "b's test module and its pub(super) are left out"
    );
}
