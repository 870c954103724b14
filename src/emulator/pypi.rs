//! The server's PyPI form of a channel (PEP 503 "simple" repository): `/api/repo/<channel>/simple/` lists the
//! channel's Python projects, `/api/repo/<channel>/simple/<project>/` their files (with `#sha256=`), and the files
//! themselves are under `/api/repo/<channel>/pypi/<file>` — behind the same token rules as the conda paths (Basic
//! `<token>:x-auth-token`, `X-Auth`, a token in the URL). The seeded `internal` channel holds one real wheel,
//! `corp-pyutils 1.0.0`, built here (a stored zip with a correct RECORD), so pip and uv can install it.

use std::collections::BTreeMap;

use base64::Engine as _;

/// One file of a Python project.
#[derive(Debug, Clone)]
pub struct PyFile {
    pub project: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl PyFile {
    pub fn sha256(&self) -> String {
        ring::digest::digest(&ring::digest::SHA256, &self.bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// PEP 503's normalised project name.
pub(crate) fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

/// The seeded Python files, per channel.
pub fn seeded() -> BTreeMap<String, Vec<PyFile>> {
    let mut out = BTreeMap::new();
    out.insert(
        "internal".to_string(),
        vec![wheel(
            "corp-pyutils",
            "1.0.0",
            "\"\"\"Utilities from the private index (conda-connect emulator).\"\"\"\n__version__ = \"1.0.0\"\n\n\ndef hello():\n    return \"hello from the private index\"\n",
        )],
    );
    out
}

/// A pure-Python wheel for `project` `version` with one module (`__init__.py` = `code`).
pub(crate) fn wheel(project: &str, version: &str, code: &str) -> PyFile {
    let module = project.replace('-', "_");
    let dist_info = format!("{module}-{version}.dist-info");
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{module}/__init__.py"), code.as_bytes().to_vec()),
        (
            format!("{dist_info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {project}\nVersion: {version}\nSummary: A package of the emulated private index\n")
                .into_bytes(),
        ),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: conda-connect-emulator\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut record = String::new();
    for (name, bytes) in &files {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        record.push_str(&format!(
            "{name},sha256={},{}\n",
            b64.encode(digest),
            bytes.len()
        ));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    files.push((format!("{dist_info}/RECORD"), record.into_bytes()));
    PyFile {
        project: normalize(project),
        filename: format!("{module}-{version}-py3-none-any.whl"),
        bytes: super::archive::stored_zip(&files),
    }
}

/// The project list page.
pub(crate) fn index_page(files: &[PyFile]) -> String {
    let mut projects: Vec<&str> = files.iter().map(|f| f.project.as_str()).collect();
    projects.sort();
    projects.dedup();
    let links: String = projects
        .iter()
        .map(|p| format!("<a href=\"{p}/\">{p}</a>\n"))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Simple index</title></head><body>\n{links}</body></html>\n"
    )
}

/// One project's page: its files, with their hashes.
pub(crate) fn project_page(project: &str, files: &[PyFile]) -> Option<String> {
    let wanted = normalize(project);
    let links: String = files
        .iter()
        .filter(|f| f.project == wanted)
        .map(|f| {
            format!(
                "<a href=\"../../pypi/{0}#sha256={1}\">{0}</a>\n",
                f.filename,
                f.sha256()
            )
        })
        .collect();
    (!links.is_empty()).then(|| {
        format!("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for {wanted}</title></head><body>\n<h1>Links for {wanted}</h1>\n{links}</body></html>\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pages() {
        assert_eq!(normalize("Corp_PyUtils.x"), "corp-pyutils-x");
        let files = seeded().remove("internal").unwrap();
        assert!(index_page(&files).contains("<a href=\"corp-pyutils/\">"));
        let page = project_page("Corp_PyUtils", &files).unwrap();
        assert!(
            page.contains("../../pypi/corp_pyutils-1.0.0-py3-none-any.whl#sha256="),
            "{page}"
        );
        assert!(project_page("other", &files).is_none());
        // a zip: local header first, end of central directory last
        let bytes = &files[0].bytes;
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        assert_eq!(&bytes[bytes.len() - 22..bytes.len() - 18], b"PK\x05\x06");
    }
}
