//! Other orders of a search result than the index's own (name, then channel and subdir, then version): by name
//! descending, by version, by channel. The result stays where it is (memory-mapped rows, [`Matches`]); an order is
//! a permutation of its positions, 4 bytes a row, computed once per search and column (off the UI thread: a
//! mirror's million rows take a moment).

use std::cmp::Ordering;

use super::store::{LoadedIndex, Matches};

/// The columns of the package list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PackageColumn {
    #[default]
    Name,
    Version,
    Channel,
}

/// Rows fetched at a time while reading the sort keys (bounds the transient list of row references).
const CHUNK: usize = 64 * 1024;

/// The positions of `matches` (0..len, the index's own order) sorted by `column`, ties kept in the index's order;
/// `descending` reverses the whole.
pub fn sorted_positions(
    index: &LoadedIndex,
    matches: &Matches,
    column: PackageColumn,
    descending: bool,
) -> Vec<u32> {
    let len = matches.len();
    let mut positions: Vec<u32> = (0..len as u32).collect();
    match column {
        // the index's own order is by name already
        PackageColumn::Name => {}
        PackageColumn::Version => {
            let versions = keys(index, matches, |row| row.version);
            positions
                .sort_by(|&a, &b| compare_versions(versions[a as usize], versions[b as usize]));
        }
        PackageColumn::Channel => {
            let channels = keys(index, matches, |row| (row.channel, row.subdir));
            positions.sort_by(|&a, &b| channels[a as usize].cmp(&channels[b as usize]));
        }
    }
    if descending {
        positions.reverse();
    }
    positions
}

/// One key per row of `matches`, in its order.
fn keys<'a, K>(
    index: &'a LoadedIndex,
    matches: &Matches,
    key: impl Fn(&super::PackageRef<'a>) -> K,
) -> Vec<K> {
    let len = matches.len();
    let mut out = Vec::with_capacity(len);
    let mut start = 0;
    while start < len {
        let end = (start + CHUNK).min(len);
        out.extend(matches.rows(index, start..end).iter().map(&key));
        start = end;
    }
    out
}

/// conda's version order, closely enough for a list: an optional `N!` epoch first; then the version split into
/// parts at `.`, `-` and `_`, each part into runs of digits and of letters (a part that starts with letters gets
/// a `0` in front); numbers compare as numbers and after letters (`1.0a1` < `1.0`), `dev` before all letters and
/// `post` after everything, letters otherwise case-insensitively; a missing part counts as 0 (`1.0` = `1.0.0`).
/// Equal versions fall back to their text, so the order is total.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a);
    let (epoch_b, rest_b) = split_epoch(b);
    epoch_a
        .cmp(&epoch_b)
        .then_with(|| compare_atoms(&atoms(rest_a), &atoms(rest_b)))
        .then_with(|| a.cmp(b))
}

fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once('!') {
        Some((epoch, rest)) if epoch.bytes().all(|c| c.is_ascii_digit()) && !epoch.is_empty() => {
            (epoch.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    }
}

/// A run of a version part, in its sort order: dev < letters < (absent / zero) numbers < post.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Dev,
    Letters(String),
    Number(u128),
    Post,
}

/// The parts of a version, each a list of runs (letters lower-cased).
fn atoms(version: &str) -> Vec<Vec<Atom>> {
    version
        .split(['.', '-', '_'])
        .map(|part| {
            let mut runs = Vec::new();
            let bytes = part.as_bytes();
            // as conda does: a part that starts with letters is read as `0` then the letters (`.post1` = `0post1`)
            if bytes.first().is_some_and(|c| !c.is_ascii_digit()) {
                runs.push(Atom::Number(0));
            }
            let mut i = 0;
            while i < bytes.len() {
                let digits = bytes[i].is_ascii_digit();
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() == digits {
                    i += 1;
                }
                let run = &part[start..i];
                runs.push(if digits {
                    Atom::Number(run.parse().unwrap_or(u128::MAX))
                } else {
                    match run.to_ascii_lowercase().as_str() {
                        "dev" => Atom::Dev,
                        "post" => Atom::Post,
                        other => Atom::Letters(other.to_string()),
                    }
                });
            }
            runs
        })
        .collect()
}

fn compare_atoms(a: &[Vec<Atom>], b: &[Vec<Atom>]) -> Ordering {
    // a missing part or run counts as 0 (`1.0` = `1.0.0`, `1.0a1` < `1.0`, `1.0` < `1.0.post1`)
    let zero = Atom::Number(0);
    for i in 0..a.len().max(b.len()) {
        let part_a = a.get(i).map(Vec::as_slice).unwrap_or_default();
        let part_b = b.get(i).map(Vec::as_slice).unwrap_or_default();
        for j in 0..part_a.len().max(part_b.len()) {
            let ordering = part_a
                .get(j)
                .unwrap_or(&zero)
                .cmp(part_b.get(j).unwrap_or(&zero));
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_conda_lists_them() {
        let mut versions = vec![
            "1.10.0",
            "1.2",
            "1.2.0a1",
            "1.2.1",
            "1!0.1",
            "1.2.post1",
            "1.2.dev0",
            "0.9",
            "2.0rc1",
            "2.0",
            "10.0",
        ];
        versions.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            versions,
            [
                "0.9",
                "1.2.dev0",
                "1.2.0a1",
                "1.2",
                "1.2.post1",
                "1.2.1",
                "1.10.0",
                "2.0rc1",
                "2.0",
                "10.0",
                "1!0.1"
            ]
        );
        assert_eq!(
            compare_versions("1.0", "1.0.0"),
            "1.0".cmp("1.0.0"),
            "equal parts, then the text"
        );
        assert_eq!(
            compare_versions("99999999999999999999999999999999999999999", "1"),
            Ordering::Greater
        );
    }
}
