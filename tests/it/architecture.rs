//! The layout rules ARCHITECTURE.md states, checked on the source: no file of `src/` over 600
//! lines, no function over 100, and no two files of `src/` that import each other, directly or
//! through others. Files are parsed with `syn`; an import is a `use` or a path (`crate::…`,
//! `super::…`, `self::…`, or a child module's name) that resolves to another file. Test code
//! (`#[cfg(test)]` modules and files) is left out: a test may reach anywhere.

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

/// The paths one file names (each with the inline modules it sits in, which `super::` and
/// relative paths start from), and the child modules it declares for tests only.
#[derive(Default)]
struct Names {
    paths: Vec<(Vec<String>, Vec<String>)>,
    test_children: Vec<String>,
    inline: Vec<String>,
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if is_cfg_test(&m.attrs) {
            if m.content.is_none() {
                self.test_children.push(m.ident.to_string());
            }
            return;
        }
        self.inline.push(m.ident.to_string());
        syn::visit::visit_item_mod(self, m);
        self.inline.pop();
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
            let mut paths = Vec::new();
            expand(&u.tree, &mut Vec::new(), &mut paths);
            let inline = &self.inline;
            self.paths
                .extend(paths.into_iter().map(|p| (inline.clone(), p)));
        }
    }

    /// `pub(super)` and `pub(in crate::x)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.paths.push((
            self.inline.clone(),
            p.segments.iter().map(|s| s.ident.to_string()).collect(),
        ));
        syn::visit::visit_path(self, p);
    }
}

/// The file a path names from module `file` (inside its inline modules `inline`), if it names
/// one other than `file` itself.
fn resolve(
    path: &[String],
    file: &ModPath,
    inline: &[String],
    files: &BTreeMap<ModPath, PathBuf>,
) -> Option<ModPath> {
    let from = &[file.as_slice(), inline].concat();
    let (mut base, rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.to_vec(), &path[1..]),
        Some("super") => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            let keep = from.len().checked_sub(supers)?;
            (from[..keep].to_vec(), &path[supers..])
        }
        Some(first) => {
            let mut child = from.to_vec();
            child.push(first.to_owned());
            if !files.contains_key(&child) {
                return None;
            }
            (from.to_vec(), path)
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
    found.filter(|f| f != file)
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
            .filter_map(|(inline, p)| resolve(p, &module, inline, &files))
            .collect();
        graph.insert(module, targets);
    }
    graph
}

/// The groups of files that import each other (strongly connected components of more than one
/// file), found with Tarjan's algorithm; each group is listed in module order.
fn cycles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'g ModPath, usize>,
        low: BTreeMap<&'g ModPath, usize>,
        stack: Vec<&'g ModPath>,
        groups: Vec<Vec<ModPath>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g ModPath) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().position(|n| *n == v).unwrap();
                let mut group: Vec<ModPath> = self.stack.drain(at..).cloned().collect();
                if group.len() > 1 {
                    group.sort();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.groups.sort();
    t.groups
}

fn shown(group: &[ModPath]) -> String {
    group
        .iter()
        .map(|m| format!("crate::{}", m.join("::")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn no_file_in_src_imports_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    assert!(graph.len() > 50, "only {} files found in src/", graph.len());
    let groups: Vec<String> = cycles(&graph).iter().map(|g| shown(g)).collect();
    assert!(
        groups.is_empty(),
        "files that import each other (move what they share into a file of its own):\n{}",
        groups.join("\n")
    );
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
    write("lib.rs", "mod a;\nmod b;\nmod c;\n#[cfg(test)]\nmod t;\n");
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
    write(
        "c.rs",
        "pub fn f() {}\nmod signals {\n    use super::f;\n}\n",
    );
    let graph = import_graph(dir.path());
    let groups = cycles(&graph);
    assert_eq!(
        groups.len(),
        1,
        "only a/mod.rs and a/inner.rs import each other"
    );
    assert_eq!(shown(&groups[0]), "crate::a, crate::a::inner");
    assert!(
        !graph.contains_key(&vec!["t".to_owned()]),
        "t.rs is test-only"
    );
    assert!(
        graph[&vec!["b".to_owned()]].is_empty(),
        "b's test module and its pub(super) are left out"
    );
    assert!(
        graph[&vec!["c".to_owned()]].is_empty(),
        "super:: in an inline module of c is c itself"
    );
}

/// Functions longer than `limit` lines, outside test code: `(file, name, lines)`.
fn long_functions(root: &Path, limit: usize) -> Vec<(String, String, usize)> {
    struct Fns<'a> {
        file: &'a str,
        limit: usize,
        found: Vec<(String, String, usize)>,
    }
    impl Fns<'_> {
        fn check(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
            let lines = span.end().line - span.start().line + 1;
            if lines > self.limit {
                self.found
                    .push((self.file.to_owned(), name.to_string(), lines));
            }
        }
    }
    impl<'ast> Visit<'ast> for Fns<'_> {
        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            if !is_cfg_test(&m.attrs) {
                syn::visit::visit_item_mod(self, m);
            }
        }
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            if !is_cfg_test(&f.attrs) {
                self.check(&f.sig.ident, syn::spanned::Spanned::span(f));
                syn::visit::visit_item_fn(self, f);
            }
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            self.check(&f.sig.ident, syn::spanned::Spanned::span(f));
            syn::visit::visit_impl_item_fn(self, f);
        }
    }
    let mut found = Vec::new();
    for file in modules(root).values() {
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        let ast = syn::parse_file(&text).expect("src/ parses");
        let name = file.strip_prefix(root).unwrap().display().to_string();
        let mut fns = Fns {
            file: &name,
            limit,
            found: Vec::new(),
        };
        fns.visit_file(&ast);
        found.extend(fns.found);
    }
    found
}

#[test]
fn no_file_in_src_is_over_600_lines_and_no_function_over_100() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long_files = Vec::new();
    for file in modules(&src).values() {
        let lines = std::fs::read_to_string(file).unwrap().lines().count();
        if lines > 600 {
            long_files.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(long_files.is_empty(), "split these files: {long_files:?}");
    let long = long_functions(&src, 100);
    assert!(long.is_empty(), "split these functions: {long:?}");
}

#[test]
fn the_function_length_check_counts_a_functions_lines() {
    let dir = tempfile::tempdir().unwrap();
    let body = "    let x = 1;\n".repeat(99);
    let text = format!(
        "fn short() {{\n}}\nstruct S;\nimpl S {{\n    fn long() {{\n{body}    }}\n}}\n\
         #[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n"
    );
    std::fs::write(dir.path().join("lib.rs"), text).unwrap();
    // `long` spans its signature, 99 body lines and its closing brace: 101 lines.
    assert_eq!(
        long_functions(dir.path(), 100),
        vec![("lib.rs".to_owned(), "long".to_owned(), 101)]
    );
    assert!(long_functions(dir.path(), 101).is_empty());
}
