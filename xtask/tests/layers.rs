//! The kit's layering, kept: no import cycle between the files of any crate of the workspace
//! (cargo already refuses one between crates), the pure crates free of the AWS SDK, and every
//! kit crate saying its job in a crate doc comment.
//!
//! A file depends on another when it names an item of the other's module: through `use`, a path
//! in its code (`crate::…`, `super::…`, a child module, an alias from a `use`), or a path inside
//! a macro call. Declaring a child module (`mod x;`) is not a dependency.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;
use syn::visit::Visit;

/// A module path from the crate root: `["deploy", "stack"]`.
type ModPath = Vec<String>;

/// One crate's files: each module path with its file and its source.
struct CrateFiles {
    name: String,
    files: BTreeMap<ModPath, (PathBuf, String)>,
}

/// Reads the module tree from `root` (a lib.rs or main.rs) by following `mod x;` declarations.
fn read_crate(name: &str, root: &Path) -> CrateFiles {
    let mut files = BTreeMap::new();
    let mut pending = vec![(Vec::new(), root.to_owned())];
    while let Some((module, path)) = pending.pop() {
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let syntax = syn::parse_file(&source)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
        // Where the children of this module live: next to a lib.rs/main.rs/mod.rs, else in a
        // directory named after the module.
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = if module.is_empty() || stem == "mod" {
            path.parent().unwrap().to_owned()
        } else {
            path.parent().unwrap().join(&stem)
        };
        for item in &syntax.items {
            if let syn::Item::Mod(m) = item
                && m.content.is_none()
            {
                let child = m.ident.to_string();
                let flat = dir.join(format!("{child}.rs"));
                let nested = dir.join(&child).join("mod.rs");
                let file = if flat.is_file() { flat } else { nested };
                let mut path = module.clone();
                path.push(child);
                pending.push((path, file));
            }
        }
        files.insert(module, (path, source));
    }
    CrateFiles {
        name: name.to_owned(),
        files,
    }
}

/// Collects, for one file, every module path it refers to (resolved from the crate root).
struct References<'a> {
    /// The file's module, then the inline modules (`mod tests { … }`) the visitor is inside.
    module: ModPath,
    /// Names a `use` brought in, to the absolute paths they stand for.
    aliases: BTreeMap<String, ModPath>,
    /// The child modules of each module of the crate.
    children: &'a BTreeMap<ModPath, BTreeSet<String>>,
    found: Vec<ModPath>,
}

impl References<'_> {
    /// `segments` as written in `self.module`, made absolute; `None` for another crate's path.
    fn resolve(&self, segments: &[String]) -> Option<ModPath> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.clone(),
            "super" => {
                let mut base = self.module.clone();
                base.pop();
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            name if self
                .children
                .get(&self.module)
                .is_some_and(|c| c.contains(name)) =>
            {
                let mut base = self.module.clone();
                base.push(name.to_owned());
                base
            }
            name => self.aliases.get(name)?.clone(),
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn note(&mut self, segments: &[String]) {
        if let Some(path) = self.resolve(segments) {
            self.found.push(path);
        }
    }

    /// Every path a `use` tree names, with the name it binds (if any).
    fn expand(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(ModPath, String)>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                Self::expand(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) if n.ident == "self" => {
                let bound = prefix.last().cloned().unwrap_or_default();
                out.push((prefix.clone(), bound));
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                out.push((path, n.ident.to_string()));
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                if r.ident != "self" {
                    path.push(r.ident.to_string());
                }
                out.push((path, r.rename.to_string()));
            }
            syn::UseTree::Glob(_) => out.push((prefix.clone(), String::new())),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    Self::expand(tree, prefix, out);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for References<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut uses = Vec::new();
        Self::expand(&item.tree, &mut Vec::new(), &mut uses);
        for (path, bound) in uses {
            if let Some(absolute) = self.resolve(&path) {
                if bound.is_empty() {
                    // A glob brings in the module's children by their names.
                    for child in self.children.get(&absolute).into_iter().flatten() {
                        let mut full = absolute.clone();
                        full.push(child.clone());
                        self.aliases.insert(child.clone(), full);
                    }
                } else {
                    self.aliases.insert(bound, absolute.clone());
                }
                self.found.push(absolute);
            }
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.note(&segments);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Paths inside a macro call's tokens: `a::b::c` runs of identifiers.
        fn runs(tokens: proc_macro2::TokenStream, out: &mut Vec<Vec<String>>) {
            let mut run: Vec<String> = Vec::new();
            let mut colons = 0;
            for token in tokens {
                match token {
                    proc_macro2::TokenTree::Ident(ident) => {
                        if colons != 2 && !run.is_empty() {
                            out.push(std::mem::take(&mut run));
                        }
                        run.push(ident.to_string());
                        colons = 0;
                    }
                    proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
                    proc_macro2::TokenTree::Group(g) => {
                        out.push(std::mem::take(&mut run));
                        runs(g.stream(), out);
                        colons = 0;
                    }
                    _ => {
                        out.push(std::mem::take(&mut run));
                        colons = 0;
                    }
                }
            }
            out.push(run);
        }
        let mut found = Vec::new();
        runs(mac.tokens.clone(), &mut found);
        for run in found.into_iter().filter(|r| r.len() > 1) {
            self.note(&run);
        }
        syn::visit::visit_macro(self, mac);
    }
}

/// The file-level dependency graph of one crate: module → the other modules it refers to.
fn dependencies(krate: &CrateFiles) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut children: BTreeMap<ModPath, BTreeSet<String>> = BTreeMap::new();
    for module in krate.files.keys() {
        if let Some((last, parent)) = module.split_last() {
            children
                .entry(parent.to_vec())
                .or_default()
                .insert(last.clone());
        }
    }
    let mut graph = BTreeMap::new();
    for (module, (_, source)) in &krate.files {
        let syntax = syn::parse_file(source).unwrap();
        let mut refs = References {
            module: module.clone(),
            aliases: BTreeMap::new(),
            children: &children,
            found: Vec::new(),
        };
        // Aliases first, so that paths above the `use` that brings them in resolve too.
        for item in &syntax.items {
            if let syn::Item::Use(u) = item {
                refs.visit_item_use(u);
            }
        }
        refs.found.clear();
        refs.visit_file(&syntax);
        let mut targets = BTreeSet::new();
        for found in refs.found {
            // The deepest module file along the path is the one referred to.
            let target = (0..=found.len())
                .rev()
                .map(|n| found[..n].to_vec())
                .find(|prefix| krate.files.contains_key(prefix))
                .unwrap_or_default();
            if &target != module {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        graph: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    fn connect<'a>(state: &mut State<'a>, v: &'a ModPath) {
        let n = state.index.len();
        state.index.insert(v, n);
        state.low.insert(v, n);
        state.stack.push(v);
        state.on_stack.insert(v);
        for w in state.graph.get(v).into_iter().flatten() {
            if !state.index.contains_key(w) {
                connect(state, w);
                let low = state.low[v].min(state.low[w]);
                state.low.insert(v, low);
            } else if state.on_stack.contains(w) {
                let low = state.low[v].min(state.index[w]);
                state.low.insert(v, low);
            }
        }
        if state.low[v] == state.index[v] {
            let mut component = Vec::new();
            while let Some(w) = state.stack.pop() {
                state.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            connect(&mut state, v);
        }
    }
    state.found
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The strings of a JSON array.
fn strings(array: &Value) -> impl Iterator<Item = &str> {
    array
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
}

/// Every workspace crate's root files (lib and bins), read.
fn workspace_crates(metadata: &Value) -> Vec<CrateFiles> {
    let members: BTreeSet<&str> = strings(&metadata["workspace_members"]).collect();
    let mut crates = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        if !members.contains(package["id"].as_str().unwrap()) {
            continue;
        }
        for target in package["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = strings(&target["kind"]).collect();
            if kinds.iter().any(|k| matches!(*k, "lib" | "bin")) {
                let name = format!("{} ({})", package["name"].as_str().unwrap(), kinds[0]);
                let root = PathBuf::from(target["src_path"].as_str().unwrap());
                crates.push(read_crate(&name, &root));
            }
        }
    }
    crates
}

fn shown(module: &ModPath) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

#[test]
fn no_file_of_any_crate_imports_in_a_cycle() {
    let metadata = metadata();
    let crates = workspace_crates(&metadata);
    let packages: BTreeSet<&str> = crates
        .iter()
        .map(|c| c.name.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        packages.len(),
        metadata["workspace_members"].as_array().unwrap().len(),
        "a workspace member has no lib or bin target read: {packages:?}"
    );
    let mut problems = Vec::new();
    for krate in &crates {
        for cycle in cycles(&dependencies(krate)) {
            let names: Vec<String> = cycle.iter().map(shown).collect();
            problems.push(format!("{}: {}", krate.name, names.join(" <-> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles:\n{}",
        problems.join("\n")
    );
}

/// The pure parts of the kit, the protocol core and the protocol behind its ports: no AWS SDK
/// anywhere in what they build on.
#[test]
fn the_pure_crates_build_on_no_aws_sdk() {
    let metadata = metadata();
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let normal = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().unwrap())
                .collect();
            (node["id"].as_str().unwrap(), normal)
        })
        .collect();
    for pure in [
        "kit-base",
        "kit-config",
        "kit-render",
        "kit-cdk",
        "kit-iam",
        "hitl-core",
        "hitl-protocol",
    ] {
        let (root, _) = names
            .iter()
            .find(|(_, name)| **name == pure)
            .unwrap_or_else(|| panic!("{pure} is not in the workspace"));
        let mut seen = BTreeSet::new();
        let mut pending = vec![*root];
        while let Some(id) = pending.pop() {
            if seen.insert(id) {
                pending.extend(nodes.get(id).into_iter().flatten());
            }
        }
        let aws: Vec<&str> = seen
            .iter()
            .map(|id| names[id])
            .filter(|name| name.starts_with("aws-"))
            .collect();
        assert!(aws.is_empty(), "{pure} builds on {aws:?}");
    }
}

#[test]
fn every_kit_crate_says_its_job() {
    for krate in workspace_crates(&metadata()) {
        let (path, source) = &krate.files[&Vec::new()];
        assert!(
            source.trim_start().starts_with("//!"),
            "{} ({}) has no crate doc comment",
            krate.name,
            path.display()
        );
    }
}

/// The checker itself: a cycle through `use`, a path in code and a macro is found; a parent
/// that only declares its children is none.
#[test]
fn the_checker_finds_a_cycle_and_only_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "//! Root.\nmod a;\nmod b;\nmod c;\nmod d;\nmod f;\nmod g;\n",
    );
    write("a.rs", "use crate::b::Thing;\n");
    write("b.rs", "pub struct Thing;\nfn f() { crate::c::g() }\n");
    write("c.rs", "pub fn g() { println!(\"{}\", crate::a::NAME) }\n");
    write("d.rs", "mod e;\nfn h() { e::i() }\n");
    write(
        "d/e.rs",
        "pub fn i() {}\n#[cfg(test)]\nmod tests { use super::*; }\n",
    );
    // Through a glob of the parent, then a sibling by its bare name.
    write("f.rs", "use super::*;\npub struct X;\nfn j() { g::k() }\n");
    write("g.rs", "use crate::f::X;\npub fn k() {}\n");
    let krate = read_crate("fixture", &dir.path().join("lib.rs"));
    assert_eq!(krate.files.len(), 8);
    let found = cycles(&dependencies(&krate));
    let names: Vec<Vec<String>> = found
        .iter()
        .map(|c| c.iter().map(shown).collect())
        .collect();
    assert_eq!(names, [vec!["a", "b", "c"], vec!["f", "g"]]);
}
