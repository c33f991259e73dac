//! Explains an instruction-count change by the functions that changed: reads the callgrind
//! profiles iai-callgrind keeps next to its `summary.json`, totals self and inclusive `Ir` per
//! function, and ranks the functions whose cost moved most between two profiles.
//!
//! # What the parser reads
//!
//! Callgrind's profile format, version 1 (valgrind's "Callgrind Format Specification"):
//!
//! - header lines `version:`, `creator:`, `pid:`, `thread:`, `part:`, `cmd:`, `desc:`,
//!   `event:`, `positions:`, `events:`, `summary:` and `totals:`; a header may start again after
//!   body lines (a file written with `--combine-dumps=yes` holds several parts);
//! - position specifications `ob=`, `fl=`, `fi=`, `fe=`, `fn=`, `cob=`, `cfi=`, `cfl=`, `cfn=`
//!   (and the jump and context ones, `jfi=`, `jfn=`, `frfn=`, which carry no cost), each either
//!   plain, `(id) name` (defining the id) or `(id)` (using it). Function ids are shared by
//!   `fn=`, `cfn=` and `jfn=`, file ids by `fl=`, `fi=`, `fe=`, `cfi=`, `cfl=` and `jfi=`, object
//!   ids by `ob=` and `cob=`, as callgrind writes them;
//! - cost lines: the subpositions named by `positions:` (`instr`, `bb`, `line`; `line` alone
//!   when there is no such header), each absolute (decimal or `0x` hex), relative (`+N`, `-N`)
//!   or `*`, then the counters in `events:` order, missing trailing counters being 0;
//! - `calls=<count> <target position>` and the cost line after it, which is the callee's
//!   inclusive cost for those calls: it goes into the caller's inclusive cost, not its self cost
//!   nor the total;
//! - `jump=` and `jcnd=` lines, which carry no cost.
//!
//! Only the `Ir` counter is kept; a profile without an `Ir` event is an error. Positions are
//! checked but not tracked, since costs are summed per function. When a part ends with
//! `totals:`, its cost lines must add up to it (callgrind writes the sum of exactly those lines
//! there), which catches a file that was cut short or altered; `summary:` is only used to notice
//! a missing `totals:`, since callgrind's summary can legitimately differ (iai-callgrind's own
//! parser trusts `totals:` over `summary:` for the same reason).
//!
//! # Function identity
//!
//! A function is its demangled name: Rust symbols (legacy `_ZN…` and v0 `_R…`) are demangled
//! with `rustc-demangle`'s alternate format, which drops the `::h<16 hex>` hash of legacy
//! symbols and the crate disambiguators of v0 ones; names valgrind already demangled lose a
//! trailing `::h<16 hex>` the same way. Callgrind's recursion suffix (`name'2` for a recursive
//! activation, with `--separate-recs`) is dropped too. Different symbols with one display name
//! (for example the monomorphisations of a generic function, which legacy symbols name alike)
//! are merged into one function; so are the same function's costs across files and parts.
//!
//! # Inclusive cost
//!
//! Inclusive cost is self cost plus the cost of the function's calls to *other* functions
//! (callgrind's call costs are inclusive of the callee). Calls from a function to itself,
//! including the ones that only became self-calls by merging (a recursion level `f'2`, another
//! monomorphisation with the same name), are skipped: their cost is already in the merged self
//! cost and in the merged function's other calls, so adding it would count it twice. Mutual
//! recursion through other functions (`a` → `b` → `a`) is not collapsed: the inner `a`'s cost
//! then appears both in `a`'s self cost and in the call to `b`, so such a function's inclusive
//! cost can read high (even above the total). Merging can make such a cycle: valgrind names
//! both the executable's entry and glibc's `__libc_start_call_main` `(below main)`, so in every
//! iai-callgrind profile `(below main)` reads twice the total. Both sides of a diff are counted
//! the same way, and [`diff`] leaves functions that enclose the whole run out of `by_inclusive`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::report::{escape_markdown, format_count};

/// Self and inclusive `Ir` of one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionCost {
    /// Instructions executed in the function's own code.
    pub self_ir: u64,
    /// Self cost plus the cost of its calls to other functions (see the module docs).
    pub inclusive_ir: u64,
}

/// The `Ir` of one benchmark run, per function, summed over all its callgrind files and parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// All instructions of the run: the sum of every self cost.
    pub total: u64,
    /// Per function, by demangled name.
    pub functions: BTreeMap<String, FunctionCost>,
}

/// How the functions' costs changed between two profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDiff {
    /// Total Ir of the old and new profiles.
    pub total_old: u64,
    pub total_new: u64,
    /// The functions whose self cost changed most, largest |change| first (at most `top`).
    pub by_self: Vec<FunctionChange>,
    /// The functions whose inclusive cost changed most, largest |change| first (at most `top`).
    pub by_inclusive: Vec<FunctionChange>,
}

/// One function's costs on both sides of a diff (0 where it is absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionChange {
    /// The demangled name.
    pub function: String,
    pub old_self: u64,
    pub new_self: u64,
    pub old_inclusive: u64,
    pub new_inclusive: u64,
}

impl FunctionChange {
    fn self_change(&self) -> i128 {
        i128::from(self.new_self) - i128::from(self.old_self)
    }

    fn inclusive_change(&self) -> i128 {
        i128::from(self.new_inclusive) - i128::from(self.old_inclusive)
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// The callgrind output files of the newest run in one benchmark's folder
/// (`<home>/<package>/<bench target>/<group>/<function>.<id>/`), sorted.
///
/// iai-callgrind names them `callgrind.<function>.<id>[.<pid>][.t<thread>][.p<part>].out`;
/// the previous run's files end in `.out.old`, named baselines' in `.out.base@<name>`, and the
/// logs in `.log`, so only names starting `callgrind.` and ending `.out` are taken (other tools'
/// files, such as `dhat.*.out`, start differently).
pub fn profile_files(benchmark_dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(benchmark_dir).with_context(|| {
        format!(
            "cannot read {}; pass the benchmark's folder under the iai-callgrind home",
            benchmark_dir.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| {
            format!(
                "cannot list {}; check its permissions",
                benchmark_dir.display()
            )
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("callgrind.") && name.ends_with(".out") && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    if files.is_empty() {
        bail!(
            "no callgrind output in {}; re-run the iai-callgrind benchmark",
            benchmark_dir.display()
        );
    }
    files.sort();
    Ok(files)
}

/// Reads one benchmark's profile from its folder: [`profile_files`] then [`read_profile`].
pub fn read_benchmark(benchmark_dir: &Path) -> Result<Profile> {
    read_profile(&profile_files(benchmark_dir)?)
}

/// Reads callgrind output files (the threads and parts of one run) into one [`Profile`].
pub fn read_profile(files: &[PathBuf]) -> Result<Profile> {
    let mut acc = Accumulator::default();
    for file in files {
        let bytes = fs::read(file).with_context(|| {
            format!(
                "cannot read {}; re-run the iai-callgrind benchmark",
                file.display()
            )
        })?;
        // Symbol names are not always UTF-8; the format itself is ASCII.
        let text = String::from_utf8_lossy(&bytes);
        parse_file(&text, file, &mut acc)?;
    }
    Ok(acc.finish())
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Costs per function while files are read, by interned name.
#[derive(Default)]
struct Accumulator {
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    /// The interned function of a raw symbol, so each distinct symbol is demangled once
    /// (iai-callgrind runs callgrind with `--compress-strings=no`, so every `fn=` line spells
    /// the symbol out).
    by_symbol: HashMap<String, usize>,
    self_ir: Vec<u64>,
    call_ir: Vec<u64>,
    total: u64,
}

impl Accumulator {
    fn function(&mut self, symbol: &str) -> usize {
        if let Some(&index) = self.by_symbol.get(symbol) {
            return index;
        }
        let name = display_name(symbol);
        let index = match self.by_name.get(&name) {
            Some(&index) => index,
            None => {
                let index = self.names.len();
                self.names.push(name.clone());
                self.by_name.insert(name, index);
                self.self_ir.push(0);
                self.call_ir.push(0);
                index
            }
        };
        self.by_symbol.insert(symbol.to_owned(), index);
        index
    }

    fn finish(self) -> Profile {
        let functions = self
            .names
            .into_iter()
            .zip(self.self_ir.iter().zip(&self.call_ir))
            .map(|(name, (&self_ir, &call_ir))| {
                let cost = FunctionCost {
                    self_ir,
                    inclusive_ir: self_ir.saturating_add(call_ir),
                };
                (name, cost)
            })
            .collect();
        Profile {
            total: self.total,
            functions,
        }
    }
}

/// The display name of a symbol as callgrind wrote it (see "Function identity" above).
fn display_name(symbol: &str) -> String {
    let symbol = strip_recursion_suffix(symbol);
    match rustc_demangle::try_demangle(symbol) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => strip_legacy_hash(symbol).to_owned(),
    }
}

/// `name'2` → `name`: callgrind's mark of a recursion level.
fn strip_recursion_suffix(symbol: &str) -> &str {
    match symbol.rsplit_once('\'') {
        Some((name, level))
            if !name.is_empty()
                && !level.is_empty()
                && level.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => symbol,
    }
}

/// `path::h0123456789abcdef` → `path`: the hash of a legacy Rust symbol that valgrind
/// demangled itself.
fn strip_legacy_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            path
        }
        _ => name,
    }
}

/// The kinds of compressed names besides functions; each has its own id space.
#[derive(Clone, Copy)]
enum NameKind {
    Object,
    File,
}

/// What a file's lines mean so far.
struct FileState<'a> {
    path: &'a Path,
    /// Function ids (`fn=(id)`, `cfn=(id)`, `jfn=(id)`) to interned functions.
    functions: HashMap<u64, usize>,
    /// Defined file and object ids; their names play no part in the costs.
    files: HashSet<u64>,
    objects: HashSet<u64>,
    /// The number of subpositions before the counters of a cost line.
    positions: usize,
    /// The index of `Ir` among the counters, once `events:` was read.
    ir: Option<usize>,
    events: usize,
    current: Option<usize>,
    callee: Option<usize>,
    /// The line of a `calls=` whose cost line is still to come, and the callee.
    pending_call: Option<(usize, usize)>,
    /// The `Ir` of this part's cost lines, to check against `totals:`.
    part_ir: u64,
    /// The line of this part's `summary:`, until its `totals:` arrives.
    summary_line: Option<usize>,
}

impl FileState<'_> {
    fn error(&self, line: usize, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}:{line}: {message}", self.path.display())
    }
}

/// Reads one callgrind output file's costs into `acc`.
fn parse_file(text: &str, path: &Path, acc: &mut Accumulator) -> Result<()> {
    let mut state = FileState {
        path,
        functions: HashMap::new(),
        files: HashSet::new(),
        objects: HashSet::new(),
        positions: 1,
        ir: None,
        events: 0,
        current: None,
        callee: None,
        pending_call: None,
        part_ir: 0,
        summary_line: None,
    };
    let mut last_line = 0;
    // `lines` also drops a `\r` before each `\n`.
    for (index, line) in text.lines().enumerate() {
        last_line = index + 1;
        parse_line(line, last_line, &mut state, acc)?;
    }
    if let Some((call_line, _)) = state.pending_call {
        return Err(state.error(
            call_line,
            "the file ends before this calls= line's cost line; it is truncated, re-run the \
             iai-callgrind benchmark",
        ));
    }
    if let Some(summary_line) = state.summary_line {
        return Err(state.error(
            last_line,
            format_args!(
                "the file ends without the totals: line of the part whose summary: is on line \
                 {summary_line}; it is truncated, re-run the iai-callgrind benchmark"
            ),
        ));
    }
    if state.ir.is_none() {
        bail!(
            "{}: no events: line; it is not callgrind output or it is truncated, re-run the \
             iai-callgrind benchmark",
            path.display()
        );
    }
    Ok(())
}

/// The text of a line for an error message: escaped and at most 60 characters.
fn quoted(line: &str) -> String {
    const MAX: usize = 60;
    if line.chars().count() <= MAX {
        format!("{line:?}")
    } else {
        let head: String = line.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

fn parse_line(
    line: &str,
    number: usize,
    state: &mut FileState<'_>,
    acc: &mut Accumulator,
) -> Result<()> {
    let first = line.as_bytes().first().copied();

    if let Some((call_line, callee)) = state.pending_call.take() {
        if !matches!(first, Some(b'0'..=b'9' | b'+' | b'-' | b'*')) {
            return Err(state.error(
                call_line,
                format_args!(
                    "calls= is followed by {} instead of its cost line; the file is corrupt, \
                     re-run the iai-callgrind benchmark",
                    quoted(line)
                ),
            ));
        }
        let ir = cost_line_ir(line, number, state)?;
        let caller = state
            .current
            .ok_or_else(|| state.error(call_line, "calls= before any fn= line; the file is corrupt, re-run the iai-callgrind benchmark"))?;
        if callee != caller {
            acc.call_ir[caller] = acc.call_ir[caller].saturating_add(ir);
        }
        return Ok(());
    }

    match first {
        None | Some(b'#') => return Ok(()),
        Some(b'0'..=b'9' | b'+' | b'-' | b'*') => {
            let ir = cost_line_ir(line, number, state)?;
            let function = state.current.ok_or_else(|| {
                state.error(
                    number,
                    "a cost line before any fn= line; the file is corrupt, re-run the \
                     iai-callgrind benchmark",
                )
            })?;
            acc.self_ir[function] = acc.self_ir[function].saturating_add(ir);
            acc.total = acc.total.saturating_add(ir);
            state.part_ir = state.part_ir.saturating_add(ir);
            return Ok(());
        }
        _ => {}
    }

    // Body lines: `spec=value`. A header line's key never holds `=` before its `:`.
    if let Some((key, value)) = line.split_once('=')
        && !key.contains(':')
    {
        match key {
            "fn" => state.current = Some(function_name(value, number, state, acc)?),
            "cfn" => state.callee = Some(function_name(value, number, state, acc)?),
            // The target of a jump, or (without name mangling) the caller of a context:
            // neither carries cost, but their ids are defined in the shared function space.
            "jfn" | "frfn" => {
                if value != "(spontaneous)" {
                    function_name(value, number, state, acc)?;
                }
            }
            "fl" | "fi" | "fe" | "cfi" | "cfl" | "jfi" => {
                other_name(value, NameKind::File, number, state)?;
            }
            "ob" | "cob" => other_name(value, NameKind::Object, number, state)?,
            "calls" => {
                let mut fields = value.split_ascii_whitespace();
                let count = fields.next().and_then(parse_number);
                if count.is_none() || fields.next().is_none() {
                    return Err(state.error(
                        number,
                        format_args!(
                            "{} is not calls=<count> <target position>; the file is corrupt, \
                             re-run the iai-callgrind benchmark",
                            quoted(line)
                        ),
                    ));
                }
                let callee = state.callee.ok_or_else(|| {
                    state.error(
                        number,
                        "calls= without a cfn= line before it; the file is corrupt, re-run the \
                         iai-callgrind benchmark",
                    )
                })?;
                state.pending_call = Some((number, callee));
            }
            // Jumps carry no cost; `rec=`, `ln=` and `bb=` only come with debugging options
            // that change no counter.
            "jump" | "jcnd" | "rec" | "ln" | "bb" => {}
            _ => return Err(unknown_line(line, number, state)),
        }
        return Ok(());
    }

    // Header lines: `key: value`.
    let Some((key, value)) = line.split_once(':') else {
        return Err(unknown_line(line, number, state));
    };
    let value = value.trim();
    match key {
        "version" => {
            if !matches!(value, "0" | "1") {
                return Err(state.error(
                    number,
                    format_args!(
                        "callgrind format version {} is not supported (only 1); read it with \
                         a matching tool or re-run with this valgrind",
                        quoted(value)
                    ),
                ));
            }
        }
        "creator" | "pid" | "thread" | "part" | "cmd" | "desc" | "event" => {}
        "positions" => {
            let mut count = 0;
            for kind in value.split_ascii_whitespace() {
                if !matches!(kind, "instr" | "bb" | "line") {
                    return Err(state.error(
                        number,
                        format_args!(
                            "unknown position kind {}; callgrind writes instr, bb and line",
                            quoted(kind)
                        ),
                    ));
                }
                count += 1;
            }
            state.positions = count;
        }
        "events" => {
            let names: Vec<&str> = value.split_ascii_whitespace().collect();
            let Some(ir) = names.iter().position(|&name| name == "Ir") else {
                return Err(state.error(
                    number,
                    format_args!(
                        "no Ir event in events: {}; run callgrind with instruction counting \
                         (its default)",
                        value
                    ),
                ));
            };
            state.ir = Some(ir);
            state.events = names.len();
        }
        "summary" => {
            summary_ir(value, number, state)?;
            state.summary_line = Some(number);
            state.part_ir = 0;
        }
        "totals" => {
            let totals = summary_ir(value, number, state)?;
            if totals != state.part_ir {
                return Err(state.error(
                    number,
                    format_args!(
                        "totals: says {totals} Ir but the cost lines before it add up to {}; \
                         the file is corrupt, re-run the iai-callgrind benchmark",
                        state.part_ir
                    ),
                ));
            }
            state.summary_line = None;
            state.part_ir = 0;
        }
        _ => return Err(unknown_line(line, number, state)),
    }
    Ok(())
}

fn unknown_line(line: &str, number: usize, state: &FileState<'_>) -> anyhow::Error {
    state.error(
        number,
        format_args!(
            "{} is not a callgrind line; this is not callgrind output or it is corrupt, re-run \
             the iai-callgrind benchmark",
            quoted(line)
        ),
    )
}

/// The `Ir` of a `summary:` or `totals:` line.
fn summary_ir(value: &str, number: usize, state: &FileState<'_>) -> Result<u64> {
    let ir = state.ir.ok_or_else(|| {
        state.error(
            number,
            "summary: or totals: before events:; the file is corrupt, re-run the iai-callgrind \
             benchmark",
        )
    })?;
    let mut costs = value.split_ascii_whitespace();
    let mut result = 0;
    for index in 0.. {
        let Some(token) = costs.next() else { break };
        let cost = parse_number(token).ok_or_else(|| {
            state.error(
                number,
                format_args!(
                    "{} is not a number; the file is corrupt, re-run the iai-callgrind benchmark",
                    quoted(token)
                ),
            )
        })?;
        if index == ir {
            result = cost;
        }
    }
    Ok(result)
}

/// The `Ir` counter of a cost line, after checking its subpositions and counters.
fn cost_line_ir(line: &str, number: usize, state: &FileState<'_>) -> Result<u64> {
    let ir = state.ir.ok_or_else(|| {
        state.error(
            number,
            "a cost line before the events: line; the file is corrupt, re-run the iai-callgrind \
             benchmark",
        )
    })?;
    let bad = |what: &str| {
        state.error(
            number,
            format_args!(
                "{} is not a cost line ({what}); the file is corrupt, re-run the iai-callgrind \
                 benchmark",
                quoted(line)
            ),
        )
    };
    let mut fields = line.split_ascii_whitespace();
    for _ in 0..state.positions {
        match fields.next() {
            Some(position) if valid_position(position) => {}
            Some(_) => return Err(bad("a bad position")),
            None => return Err(bad("too few positions")),
        }
    }
    let mut result = 0;
    let mut count = 0;
    for field in fields {
        let cost = parse_number(field).ok_or_else(|| bad("a bad counter"))?;
        if count == ir {
            result = cost;
        }
        count += 1;
    }
    if count > state.events {
        return Err(bad("more counters than events"));
    }
    Ok(result)
}

/// A subposition: absolute (decimal or `0x` hex), relative (`+N`, `-N`) or `*`.
fn valid_position(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    parse_number(digits).is_some()
}

/// A decimal or `0x` hexadecimal number.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

/// A position name: `(id) name` defines `id`, `(id)` uses it, anything else is a plain name.
/// The format only treats `(` followed by a digit as compression, so `(below main)` is a name.
enum PositionName<'a> {
    Plain(&'a str),
    Define(u64, &'a str),
    Use(u64),
}

fn position_name<'a>(
    value: &'a str,
    number: usize,
    state: &FileState<'_>,
) -> Result<PositionName<'a>> {
    let Some(rest) = value.strip_prefix('(') else {
        return Ok(PositionName::Plain(value));
    };
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(PositionName::Plain(value));
    }
    let id = rest
        .split_once(')')
        .and_then(|(id, name)| Some((parse_number(id)?, name)));
    match id {
        Some((id, "")) => Ok(PositionName::Use(id)),
        Some((id, name)) if name.starts_with([' ', '\t']) => Ok(PositionName::Define(
            id,
            name.trim_start_matches([' ', '\t']),
        )),
        _ => Err(state.error(
            number,
            format_args!(
                "{} is not a compressed name (id) or (id) name; the file is corrupt, re-run \
                 the iai-callgrind benchmark",
                quoted(value)
            ),
        )),
    }
}

fn undefined(id: u64, number: usize, state: &FileState<'_>) -> anyhow::Error {
    state.error(
        number,
        format_args!(
            "name id ({id}) is used before it is defined; the file is truncated or corrupt, \
             re-run the iai-callgrind benchmark"
        ),
    )
}

/// The function of a `fn=`, `cfn=` or `jfn=` value.
fn function_name(
    value: &str,
    number: usize,
    state: &mut FileState<'_>,
    acc: &mut Accumulator,
) -> Result<usize> {
    match position_name(value, number, state)? {
        PositionName::Plain(symbol) => Ok(acc.function(symbol)),
        PositionName::Define(id, symbol) => {
            let function = acc.function(symbol);
            // Redefining an id is allowed as long as it keeps its meaning.
            if let Some(&previous) = state.functions.get(&id)
                && previous != function
            {
                return Err(state.error(
                    number,
                    format_args!(
                        "function id ({id}) is redefined as another function; the file is \
                         corrupt, re-run the iai-callgrind benchmark"
                    ),
                ));
            }
            state.functions.insert(id, function);
            Ok(function)
        }
        PositionName::Use(id) => state
            .functions
            .get(&id)
            .copied()
            .ok_or_else(|| undefined(id, number, state)),
    }
}

/// Checks a file or object name; only its id matters (to catch a use before definition).
fn other_name(value: &str, kind: NameKind, number: usize, state: &mut FileState<'_>) -> Result<()> {
    let name = position_name(value, number, state)?;
    let ids = match kind {
        NameKind::File => &mut state.files,
        NameKind::Object => &mut state.objects,
    };
    match name {
        PositionName::Plain(_) => Ok(()),
        PositionName::Define(id, _) => {
            ids.insert(id);
            Ok(())
        }
        PositionName::Use(id) if ids.contains(&id) => Ok(()),
        PositionName::Use(id) => Err(undefined(id, number, state)),
    }
}

// ---------------------------------------------------------------------------------------------
// Diff

/// The functions whose self and inclusive cost changed most from `old` to `new`, at most `top`
/// of each. A function on one side only counts as 0 on the other; a list leaves out the
/// functions whose cost of its kind did not change; ties are in name order.
///
/// `by_inclusive` also leaves out the functions that enclose the whole run on both sides
/// (inclusive cost at least the total): `main`, the runtime's start-up frames and
/// iai-callgrind's wrapper around the benchmark. Their change is the total's, which the diff
/// carries anyway, and in a real profile there are about ten of them, so they would fill the
/// list ahead of the functions that explain the change.
pub fn diff(old: &Profile, new: &Profile, top: usize) -> FunctionDiff {
    let zero = FunctionCost::default();
    let mut names: Vec<&String> = old.functions.keys().chain(new.functions.keys()).collect();
    names.sort();
    names.dedup();
    let changes: Vec<FunctionChange> = names
        .into_iter()
        .map(|name| {
            let before = old.functions.get(name).unwrap_or(&zero);
            let after = new.functions.get(name).unwrap_or(&zero);
            FunctionChange {
                function: name.clone(),
                old_self: before.self_ir,
                new_self: after.self_ir,
                old_inclusive: before.inclusive_ir,
                new_inclusive: after.inclusive_ir,
            }
        })
        .collect();
    let encloses_run =
        |c: &FunctionChange| c.old_inclusive >= old.total && c.new_inclusive >= new.total;
    let ranked = |change: fn(&FunctionChange) -> i128, skip: &dyn Fn(&FunctionChange) -> bool| {
        let mut list: Vec<&FunctionChange> = changes
            .iter()
            .filter(|c| change(c) != 0 && !skip(c))
            .collect();
        // Names are unique, so this order is total; the sort is stable anyway.
        list.sort_by(|a, b| {
            change(b)
                .unsigned_abs()
                .cmp(&change(a).unsigned_abs())
                .then_with(|| a.function.cmp(&b.function))
        });
        list.into_iter().take(top).cloned().collect::<Vec<_>>()
    };
    FunctionDiff {
        total_old: old.total,
        total_new: new.total,
        by_self: ranked(FunctionChange::self_change, &|_| false),
        by_inclusive: ranked(FunctionChange::inclusive_change, &encloses_run),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A change with its sign and thousands separators: `+1,234`, `-56`.
fn signed_count(change: i128) -> String {
    // Instruction counts stay far below 2^53, where f64 is exact.
    let text = format_count(change as f64);
    if change > 0 { format!("+{text}") } else { text }
}

fn count(value: u64) -> String {
    format_count(value as f64)
}

/// Characters that must not reach a terminal raw: controls (newlines, ANSI escapes) and the
/// bidirectional overrides that make text read differently from what it is. The same rule as
/// the report's terminal table.
fn hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with [`hostile`] characters as visible escapes (`\n`, `\u{1b}`).
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if hostile(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The two lists' headings, with the change each ranks by.
const SELF_HEADING: &str = "by self cost";
const INCLUSIVE_HEADING: &str = "by inclusive cost";

type Lists<'a> = [(
    &'static str,
    &'a [FunctionChange],
    fn(&FunctionChange) -> (i128, u64, u64),
); 2];

fn lists(diff: &FunctionDiff) -> Lists<'_> {
    [
        (SELF_HEADING, &diff.by_self, |c: &FunctionChange| {
            (c.self_change(), c.old_self, c.new_self)
        }),
        (
            INCLUSIVE_HEADING,
            &diff.by_inclusive,
            |c: &FunctionChange| (c.inclusive_change(), c.old_inclusive, c.new_inclusive),
        ),
    ]
}

/// The diff for the terminal: the totals, then each list under its heading as an aligned
/// table (change, old → new, function). Function names have control characters escaped.
pub fn terminal_lines(diff: &FunctionDiff) -> Vec<String> {
    let total_change = i128::from(diff.total_new) - i128::from(diff.total_old);
    let mut lines = vec![format!(
        "total Ir: {} → {} ({})",
        count(diff.total_old),
        count(diff.total_new),
        signed_count(total_change)
    )];
    for (heading, list, values) in lists(diff) {
        lines.push(format!("{heading}:"));
        if list.is_empty() {
            lines.push("  no function changed".to_owned());
            continue;
        }
        let cells: Vec<[String; 4]> = list
            .iter()
            .map(|change| {
                let (delta, old, new) = values(change);
                [
                    signed_count(delta),
                    count(old),
                    count(new),
                    visible(&change.function),
                ]
            })
            .collect();
        let width = |column: usize| {
            cells
                .iter()
                .map(|c| c[column].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (delta_width, old_width, new_width) = (width(0), width(1), width(2));
        for [delta, old, new, function] in &cells {
            lines.push(format!(
                "  {delta:>delta_width$}  {old:>old_width$} → {new:>new_width$}  {function}"
            ));
        }
    }
    lines
}

/// The diff in Markdown: the totals, then a table per list. Function names are escaped with
/// [`escape_markdown`].
pub fn markdown(diff: &FunctionDiff) -> String {
    let total_change = i128::from(diff.total_new) - i128::from(diff.total_old);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Total Ir: {} → {} ({})\n",
        count(diff.total_old),
        count(diff.total_new),
        signed_count(total_change)
    );
    for (heading, list, values) in lists(diff) {
        let _ = writeln!(out, "**Functions {heading}**\n");
        if list.is_empty() {
            out.push_str("No function changed.\n\n");
            continue;
        }
        out.push_str("| change | old | new | function |\n");
        out.push_str("| --: | --: | --: | :-- |\n");
        for change in list {
            let (delta, old, new) = values(change);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                signed_count(delta),
                count(old),
                count(new),
                escape_markdown(&change.function)
            );
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::check_error_message;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test_data/callgrind")
            .join(name)
    }

    fn read(names: &[&str]) -> Profile {
        let files: Vec<PathBuf> = names.iter().map(|name| data(name)).collect();
        read_profile(&files).unwrap()
    }

    fn cost(self_ir: u64, inclusive_ir: u64) -> FunctionCost {
        FunctionCost {
            self_ir,
            inclusive_ir,
        }
    }

    fn functions(profile: &Profile) -> Vec<(&str, u64, u64)> {
        profile
            .functions
            .iter()
            .map(|(name, cost)| (name.as_str(), cost.self_ir, cost.inclusive_ir))
            .collect()
    }

    #[test]
    fn name_and_position_compression_calls_and_events() {
        // Ir is the second of three events; call costs go to the caller's inclusive cost only;
        // `cfn=(2)` defines the id `fn=(2)` uses; both manglings are demangled without hashes.
        let profile = read(&["compressed.out"]);
        assert_eq!(profile.total, 600);
        assert_eq!(
            functions(&profile),
            [
                ("demo::helper", 400, 500),
                ("demo::leaf", 100, 100),
                ("main", 100, 600),
            ]
        );
    }

    #[test]
    fn names_valgrind_demangled_recursion_levels_and_jumps() {
        // `demo::fib'2` is merged into `demo::fib` (hash stripped), so its calls to itself are
        // skipped and only the call to memcpy adds to the inclusive cost; `fi=`/`fe=`, jumps
        // and their position-only lines carry no cost.
        let profile = read(&["plain.out"]);
        assert_eq!(profile.total, 145);
        assert_eq!(
            functions(&profile),
            [("demo::fib", 132, 145), ("memcpy", 13, 13)]
        );
    }

    #[test]
    fn threads_of_one_run_are_summed_and_old_files_left_out() {
        let dir = data("threads");
        let files = profile_files(&dir).unwrap();
        assert_eq!(
            files,
            [
                dir.join("callgrind.work.one.out"),
                dir.join("callgrind.work.one.t2.out")
            ]
        );
        let profile = read_benchmark(&dir).unwrap();
        assert_eq!(profile.total, 3600);
        assert_eq!(
            functions(&profile),
            [
                ("main", 100, 1100),
                ("work::crunch", 2000, 2000),
                ("work::spawn", 1500, 3500),
            ]
        );
    }

    #[test]
    fn parts_of_a_combined_dump_are_summed() {
        // Name ids carry over from one part to the next, and each part's totals: is checked.
        let profile = read(&["combined.out"]);
        assert_eq!(profile.total, 47);
        assert_eq!(profile.functions["main"], cost(42, 42));
        assert_eq!(profile.functions["demo::tail"], cost(5, 5));
    }

    #[test]
    fn a_folder_without_output_is_an_error_naming_it() {
        let dir = data("bad");
        let err = profile_files(&dir).unwrap_err();
        check_error_message(
            &err,
            &[
                "no callgrind output in",
                &dir.display().to_string(),
                "re-run",
            ],
        );
        let err = profile_files(&data("missing")).unwrap_err();
        check_error_message(&err, &["cannot read", "missing"]);
    }

    #[test]
    fn bad_files_are_errors_naming_the_file_and_line() {
        let cases: [(&str, &[&str]); 7] = [
            (
                "garbage.out",
                &[":9:", "\"hello world\" is not a callgrind line", "re-run"],
            ),
            ("truncated_call.out", &[":10:", "truncated", "re-run"]),
            ("truncated_totals.out", &[":9:", "line 5", "truncated"]),
            (
                "bad_totals.out",
                &[":9:", "totals: says 100 Ir", "add up to 10"],
            ),
            ("no_ir.out", &[":4:", "no Ir event", "Dr Dw"]),
            ("undefined_id.out", &[":9:", "(4)", "before it is defined"]),
            ("bad_cost.out", &[":8:", "\"1 1O\"", "bad counter"]),
        ];
        for (name, needles) in cases {
            let path = data("bad").join(name);
            let err = read_profile(std::slice::from_ref(&path)).unwrap_err();
            check_error_message(&err, needles);
            check_error_message(&err, &[&path.display().to_string()]);
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(
            display_name("_ZN4demo6helper17h0123456789abcdefE"),
            "demo::helper"
        );
        assert_eq!(display_name("_RNvCs1234_4demo4leaf"), "demo::leaf");
        assert_eq!(display_name("demo::fib::h0123456789abcdef"), "demo::fib");
        assert_eq!(display_name("demo::fib::h0123456789abcdef'2"), "demo::fib");
        assert_eq!(
            display_name("_ZN4demo3fib17h0123456789abcdefE'3"),
            "demo::fib"
        );
        // Not a hash (15 digits), not a recursion level, not Rust.
        assert_eq!(
            display_name("demo::h0123456789abcde"),
            "demo::h0123456789abcde"
        );
        assert_eq!(
            display_name("<&'a T as Debug>::fmt"),
            "<&'a T as Debug>::fmt"
        );
        assert_eq!(display_name("memcpy"), "memcpy");
        assert_eq!(display_name("(below main)"), "(below main)");
    }

    #[test]
    fn diff_ranks_the_function_that_grew_first() {
        // grown.out is compressed.out with demo::leaf's self cost 250 higher.
        let old = read(&["compressed.out"]);
        let new = read(&["grown.out"]);
        let leaf = FunctionChange {
            function: "demo::leaf".into(),
            old_self: 100,
            new_self: 350,
            old_inclusive: 100,
            new_inclusive: 350,
        };
        let helper = FunctionChange {
            function: "demo::helper".into(),
            old_self: 400,
            new_self: 400,
            old_inclusive: 500,
            new_inclusive: 750,
        };
        let diff = diff(&old, &new, 10);
        assert_eq!(
            diff,
            FunctionDiff {
                total_old: 600,
                total_new: 850,
                by_self: vec![leaf.clone()],
                // All three grew by 250, but main encloses the whole run: the change of the
                // rest in name order, the caller first.
                by_inclusive: vec![helper.clone(), leaf.clone()],
            }
        );
        let top = super::diff(&old, &new, 1);
        assert_eq!(top.by_self, [leaf]);
        assert_eq!(top.by_inclusive, [helper]);
    }

    #[test]
    fn a_real_iai_callgrind_profile() {
        // `iai_cache::cache::hit/one` as `cargo xtask bench` left it (iai-callgrind 0.16.1,
        // valgrind 3.19): names demangled by valgrind, nine events, cache simulation on.
        let dir = data("real/hit.one");
        let summary: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("summary.json")).unwrap()).unwrap();
        let ir = summary["profiles"][0]["summaries"]["total"]["summary"]["Callgrind"]["Ir"]
            ["metrics"]["Left"]["Int"]
            .as_u64()
            .unwrap();
        assert_eq!(ir, 201);
        let profile = read_benchmark(&dir).unwrap();
        assert_eq!(profile.total, ir);
        let self_sum: u64 = profile.functions.values().map(|c| c.self_ir).sum();
        assert_eq!(self_sum, ir);
        assert_eq!(
            profile.functions["cache::metrics::stripe_of_this_thread"],
            cost(13, 13)
        );
        // The cache's hit path is inlined into iai-callgrind's wrapper of the benchmark.
        assert_eq!(
            profile.functions["iai_cache::hit::__iai_callgrind_wrapper_mod::hit"],
            cost(184, 201)
        );
        assert!(
            profile
                .functions
                .keys()
                .all(|name| !name.starts_with("_ZN") && !name.starts_with("_R")),
            "{:?}",
            profile.functions.keys()
        );

        // The same run with stripe_of_this_thread 5 instructions dearer: only it changed,
        // since every other function whose inclusive cost moved encloses the whole run.
        let mut dearer = profile.clone();
        dearer.total += 5;
        for cost in dearer.functions.values_mut() {
            if cost.inclusive_ir >= profile.total {
                cost.inclusive_ir += 5;
            }
        }
        let stripe = dearer
            .functions
            .get_mut("cache::metrics::stripe_of_this_thread")
            .unwrap();
        stripe.self_ir += 5;
        stripe.inclusive_ir += 5;
        let diff = diff(&profile, &dearer, 10);
        let expected = FunctionChange {
            function: "cache::metrics::stripe_of_this_thread".into(),
            old_self: 13,
            new_self: 18,
            old_inclusive: 13,
            new_inclusive: 18,
        };
        assert_eq!(diff.by_self, std::slice::from_ref(&expected));
        assert_eq!(diff.by_inclusive, [expected]);
        assert_eq!((diff.total_old, diff.total_new), (201, 206));
    }

    fn profile(total: u64, functions: &[(&str, u64, u64)]) -> Profile {
        Profile {
            total,
            functions: functions
                .iter()
                .map(|&(name, self_ir, inclusive_ir)| {
                    (name.to_owned(), cost(self_ir, inclusive_ir))
                })
                .collect(),
        }
    }

    #[test]
    fn diff_counts_missing_functions_as_zero_and_ranks_by_size_of_change() {
        let old = profile(
            1_000,
            &[("gone", 70, 70), ("same", 5, 5), ("shrank", 100, 300)],
        );
        let new = profile(
            1_000,
            &[("added", 40, 40), ("same", 5, 5), ("shrank", 10, 210)],
        );
        let diff = diff(&old, &new, 10);
        let names = |list: &[FunctionChange]| -> Vec<String> {
            list.iter().map(|c| c.function.clone()).collect()
        };
        assert_eq!(names(&diff.by_self), ["shrank", "gone", "added"]);
        assert_eq!(names(&diff.by_inclusive), ["shrank", "gone", "added"]);
        assert_eq!(diff.by_self[1].new_self, 0);
        assert_eq!(diff.by_self[2].old_inclusive, 0);
        assert!(super::diff(&old, &old, 10).by_self.is_empty());
    }

    #[test]
    fn terminal_table() {
        let old = profile(1_010, &[("a::small", 10, 10), ("b::big", 1_000, 3_500)]);
        let new = profile(
            1_234_579,
            &[("a::small", 12, 12), ("b::big", 1_234_567, 1_000)],
        );
        let lines = terminal_lines(&diff(&old, &new, 5));
        assert_eq!(
            lines,
            [
                "total Ir: 1,010 → 1,234,579 (+1,233,569)",
                "by self cost:",
                "  +1,233,567  1,000 → 1,234,567  b::big",
                "          +2     10 →        12  a::small",
                "by inclusive cost:",
                "  -2,500  3,500 → 1,000  b::big",
                "      +2     10 →    12  a::small",
            ]
        );
        let same = terminal_lines(&diff(&old, &old, 5));
        assert_eq!(
            same[1..],
            [
                "by self cost:",
                "  no function changed",
                "by inclusive cost:",
                "  no function changed"
            ]
        );
    }

    #[test]
    fn terminal_escapes_control_characters() {
        let old = profile(0, &[]);
        let new = profile(2, &[("evil\u{1b}[31m\nname\u{202e}", 1, 1)]);
        let lines = terminal_lines(&diff(&old, &new, 5));
        assert!(
            lines.iter().all(|line| !line.chars().any(hostile)),
            "{lines:?}"
        );
        assert!(
            lines[2].ends_with("evil\\u{1b}[31m\\nname\\u{202e}"),
            "{lines:?}"
        );
    }

    #[test]
    fn markdown_tables() {
        let old = profile(15, &[("<T as a::B>::f", 10, 10), ("x|y", 5, 5)]);
        let new = profile(12, &[("<T as a::B>::f", 7, 7), ("x|y", 5, 6)]);
        assert_eq!(
            markdown(&diff(&old, &new, 5)),
            "Total Ir: 15 → 12 (-3)\n\
             \n\
             **Functions by self cost**\n\
             \n\
             | change | old | new | function |\n\
             | --: | --: | --: | :-- |\n\
             | -3 | 10 | 7 | &lt;T as a::B&gt;::f |\n\
             \n\
             **Functions by inclusive cost**\n\
             \n\
             | change | old | new | function |\n\
             | --: | --: | --: | :-- |\n\
             | -3 | 10 | 7 | &lt;T as a::B&gt;::f |\n\
             | +1 | 5 | 6 | x\\|y |\n"
        );
        let same = markdown(&diff(&old, &old, 5));
        assert!(
            same.contains("**Functions by self cost**\n\nNo function changed.\n"),
            "{same}"
        );
    }
}
