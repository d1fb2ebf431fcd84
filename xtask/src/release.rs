//! `cargo xtask release [--bump patch|minor|major] [--dry-run] [--no-checks]`.
//!
//! 1. Refuses on a dirty tree (`git status --porcelain` not empty).
//! 2. Runs `cargo fmt --all -- --check`, `cargo clippy --workspace --all-targets -- -D warnings`
//!    and `cargo test --workspace`.
//! 3. Bumps `[workspace.package] version` in the root `Cargo.toml` (and the `version` of the
//!    internal crates in `[workspace.dependencies]`, so minor and major bumps still resolve).
//! 4. Prepends a section to `CHANGELOG.md`: the notes of its `## [Unreleased]` section, if any,
//!    plus the subjects of the commits since the last tag (all commits when there is no tag).
//! 5. Builds `cargo build --release -p snn-cli` and packs `snn`, `README.md`, the licence files
//!    and `CHANGELOG.md` into `<target>/dist/snn-<version>-<triple>.tar.gz`, with
//!    `snn-<version>-<triple>.tar.gz.sha256` next to it (`sha256sum` format).
//!
//! `--dry-run` prints every step, the new version and the changelog section, and changes
//! nothing (a dirty tree is reported, not refused). Needs `git`, `tar` (with gzip) and
//! `sha256sum` on `PATH`. Committing and tagging are left to the maintainer; the command prints
//! them at the end.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fsutil::write_atomic;

const USAGE: &str = "\
usage: cargo xtask release [--bump patch|minor|major] [--dry-run] [--no-checks]

Checks, bumps the workspace version, updates CHANGELOG.md, builds and packs the release.
  --bump KIND   which part of the version to bump (default: patch)
  --dry-run     show what would be done; change nothing
  --no-checks   skip fmt/clippy/tests (rehearsals only)
Needs git, tar and sha256sum on PATH.";

/// Which part of a version to bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    /// `x.y.z` -> `x.y.(z+1)`.
    Patch,
    /// `x.y.z` -> `x.(y+1).0`.
    Minor,
    /// `x.y.z` -> `(x+1).0.0`.
    Major,
}

impl Bump {
    /// Parses `patch`, `minor` or `major`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "patch" => Ok(Bump::Patch),
            "minor" => Ok(Bump::Minor),
            "major" => Ok(Bump::Major),
            other => bail!("--bump must be patch, minor or major, not '{other}'"),
        }
    }
}

/// A semantic version `MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release and build suffix as written (`-alpha.1+abc`), empty for a release.
    pub suffix: String,
}

impl Version {
    /// Parses a semantic version.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let cut = s.find(['-', '+']).unwrap_or(s.len());
        let (core, suffix) = s.split_at(cut);
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            bail!("'{s}' is not a semantic version (MAJOR.MINOR.PATCH)");
        }
        let num = |p: &str| -> Result<u64> {
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                bail!(
                    "'{s}' is not a semantic version: '{p}' is not a number without leading zeros"
                );
            }
            p.parse()
                .with_context(|| format!("'{s}': '{p}' is too large"))
        };
        if suffix.len() == 1 {
            bail!("'{s}' is not a semantic version: empty pre-release or build suffix");
        }
        Ok(Version {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: num(parts[2])?,
            suffix: suffix.to_string(),
        })
    }

    /// The next version: the chosen part incremented, lower parts reset, suffix dropped.
    pub fn bump(&self, b: Bump) -> Version {
        let (major, minor, patch) = match b {
            Bump::Major => (self.major + 1, 0, 0),
            Bump::Minor => (self.major, self.minor + 1, 0),
            Bump::Patch => (self.major, self.minor, self.patch + 1),
        };
        Version {
            major,
            minor,
            patch,
            suffix: String::new(),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}{}",
            self.major, self.minor, self.patch, self.suffix
        )
    }
}

/// The section header of a TOML line (`[workspace.package]` -> `workspace.package`), if any.
fn section_of(line: &str) -> Option<&str> {
    let t = line.trim();
    if t.starts_with("[[") {
        return Some(t.trim_start_matches('[').trim_end_matches(']').trim());
    }
    t.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .map(str::trim)
}

/// The quoted value of `key = "..."` on a line, if the line sets `key` (also inside an inline
/// table), with the byte range of the value.
fn quoted_value(line: &str, key: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = line[from..].find(key) {
        let at = from + i;
        let before_ok = at == 0 || matches!(line.as_bytes()[at - 1], b' ' | b'\t' | b'{' | b',');
        let rest = &line[at + key.len()..];
        let after = rest.trim_start();
        if before_ok && let Some(after_eq) = after.strip_prefix('=') {
            let v = after_eq.trim_start();
            if let Some(body) = v.strip_prefix('"') {
                let start = line.len() - body.len();
                let end = start + body.find('"')?;
                return Some((start, end));
            }
        }
        from = at + key.len();
    }
    None
}

/// The `[workspace.package] version` of a root `Cargo.toml`.
pub fn workspace_version(manifest: &str) -> Result<Version> {
    let mut section = "";
    for line in manifest.lines() {
        if let Some(s) = section_of(line) {
            section = s;
            continue;
        }
        if section == "workspace.package"
            && line.trim_start().starts_with("version")
            && let Some((a, b)) = quoted_value(line, "version")
        {
            return Version::parse(&line[a..b]);
        }
    }
    bail!("Cargo.toml has no `version = \"...\"` in [workspace.package]")
}

/// `manifest` with the `[workspace.package] version` set to `new`, and the `version` of every
/// path dependency in `[workspace.dependencies]` (the workspace's own crates) set to `new` too.
/// Everything else, comments and layout included, is kept byte for byte. Returns the text and
/// how many internal dependency versions changed.
pub fn set_workspace_version(manifest: &str, new: &Version) -> Result<(String, usize)> {
    let mut out = String::with_capacity(manifest.len() + 16);
    let mut section = String::new();
    let (mut found, mut deps) = (false, 0);
    for line in manifest.split_inclusive('\n') {
        if let Some(s) = section_of(line) {
            section = s.to_string();
            out.push_str(line);
            continue;
        }
        let is_pkg_version =
            section == "workspace.package" && line.trim_start().starts_with("version");
        let is_internal_dep =
            section == "workspace.dependencies" && quoted_value(line, "path").is_some();
        match quoted_value(line, "version") {
            Some((a, b)) if is_pkg_version || is_internal_dep => {
                out.push_str(&line[..a]);
                out.push_str(&new.to_string());
                out.push_str(&line[b..]);
                if is_pkg_version {
                    found = true;
                } else {
                    deps += 1;
                }
            }
            _ => out.push_str(line),
        }
    }
    if !found {
        bail!("Cargo.toml has no `version = \"...\"` in [workspace.package]");
    }
    Ok((out, deps))
}

/// The changelog section of a release: `## [VERSION] - DATE`, the hand-written `notes` (the
/// former "Unreleased" section, may be empty) and the commit subjects under `### Commits`.
pub fn render_section(version: &Version, date: &str, notes: &str, subjects: &[String]) -> String {
    let mut s = format!("## [{version}] - {date}\n\n");
    let notes = notes.trim();
    if !notes.is_empty() {
        s.push_str(notes);
        s.push_str("\n\n");
    }
    if !subjects.is_empty() {
        s.push_str("### Commits\n\n");
        for sub in subjects {
            s.push_str("- ");
            s.push_str(sub.trim());
            s.push('\n');
        }
        s.push('\n');
    }
    if notes.is_empty() && subjects.is_empty() {
        s.push_str("No changes.\n\n");
    }
    s
}

fn is_unreleased_heading(line: &str) -> bool {
    let t = line.trim().to_ascii_lowercase();
    t.starts_with("## ")
        && t.trim_start_matches("## ").trim_matches(['[', ']']).trim() == "unreleased"
}

/// Splits a changelog into (text up to and including an `## [Unreleased]` heading, that
/// section's notes, the rest starting at the next `## ` heading). Without an Unreleased heading,
/// the head is everything before the first `## ` heading and the notes are empty.
pub fn split_changelog(text: &str) -> (String, String, String) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if let Some(u) = lines.iter().position(|l| is_unreleased_heading(l)) {
        let next = lines[u + 1..]
            .iter()
            .position(|l| l.starts_with("## "))
            .map_or(lines.len(), |i| u + 1 + i);
        (
            lines[..=u].concat(),
            lines[u + 1..next].concat(),
            lines[next..].concat(),
        )
    } else {
        let first = lines
            .iter()
            .position(|l| l.starts_with("## "))
            .unwrap_or(lines.len());
        (
            lines[..first].concat(),
            String::new(),
            lines[first..].concat(),
        )
    }
}

/// The changelog after a release: an empty `## [Unreleased]` section, then the new section (the
/// old Unreleased notes plus the commit subjects), then the older releases.
pub fn update_changelog(
    existing: &str,
    version: &Version,
    date: &str,
    subjects: &[String],
) -> String {
    let base = if existing.trim().is_empty() {
        "# Changelog\n\nAll notable changes to this project are listed here.\n\n## [Unreleased]\n"
            .to_string()
    } else {
        existing.to_string()
    };
    let (mut head, notes, rest) = split_changelog(&base);
    if !base.lines().any(is_unreleased_heading) {
        if !head.ends_with("\n\n") && !head.is_empty() {
            head.push('\n');
        }
        head.push_str("## [Unreleased]\n");
    }
    format!(
        "{head}\n{}{rest}",
        render_section(version, date, &notes, subjects)
    )
}

/// `YYYY-MM-DD` of a count of days since 1970-01-01 (proleptic Gregorian calendar).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    civil_date(secs.div_euclid(86_400))
}

struct Opts {
    bump: Bump,
    dry_run: bool,
    checks: bool,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        bump: Bump::Patch,
        dry_run: false,
        checks: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bump" => {
                o.bump = Bump::parse(
                    it.next()
                        .with_context(|| format!("--bump needs a value\n{USAGE}"))?,
                )?
            }
            "--dry-run" => o.dry_run = true,
            "--no-checks" => o.checks = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => match other.strip_prefix("--bump=") {
                Some(v) => o.bump = Bump::parse(v)?,
                None => bail!("unknown option '{other}'\n{USAGE}"),
            },
        }
    }
    Ok(o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command, returning its stdout; fails with its stderr.
fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?} (is it installed?)"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command with inherited output; fails if it fails.
fn step(cmd: &mut Command) -> Result<()> {
    eprintln!("release: running {cmd:?}");
    let st = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed ({st})");
    }
    Ok(())
}

/// The host target triple (`rustc -vV`).
fn host_triple() -> Result<String> {
    let v =
        output(Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())).arg("-vV"))?;
    v.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|s| s.trim().to_string())
        .context("`rustc -vV` printed no host triple")
}

/// Subjects of the commits since the last tag (all commits without a tag), oldest first, and
/// the tag.
fn commit_subjects(root: &Path) -> Result<(Vec<String>, Option<String>)> {
    let tag = output(
        Command::new("git")
            .args(["describe", "--tags", "--abbrev=0"])
            .current_dir(root),
    )
    .ok()
    .map(|t| t.trim().to_string())
    .filter(|t| !t.is_empty());
    let mut cmd = Command::new("git");
    cmd.args(["log", "--reverse", "--format=%s"])
        .current_dir(root);
    if let Some(t) = &tag {
        cmd.arg(format!("{t}..HEAD"));
    }
    let subjects = output(&mut cmd)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    Ok((subjects, tag))
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

/// The files that go into the archive besides the binary: README, licences, changelog.
const PACKED_DOCS: [&str; 4] = ["README.md", "LICENSE-MIT", "LICENSE-APACHE", "CHANGELOG.md"];

/// Packs `files` into `<dist>/<name>.tar.gz` (one top-level folder `<name>/`) and writes
/// `<dist>/<name>.tar.gz.sha256`. Returns the archive and checksum paths.
pub fn pack(dist: &Path, name: &str, files: &[PathBuf]) -> Result<(PathBuf, PathBuf)> {
    let stage = dist.join(name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .with_context(|| format!("cannot clear {}", stage.display()))?;
    }
    std::fs::create_dir_all(&stage)
        .with_context(|| format!("cannot create {}", stage.display()))?;
    for f in files {
        let file_name = f
            .file_name()
            .with_context(|| format!("{} has no file name", f.display()))?;
        std::fs::copy(f, stage.join(file_name))
            .with_context(|| format!("cannot copy {}", f.display()))?;
    }
    let archive_name = format!("{name}.tar.gz");
    let archive = dist.join(&archive_name);
    // tar writes the uniquely named temporary, which replaces the archive only on success.
    let packed = crate::fsutil::TempFile::new(&archive).and_then(|f| {
        let tmp_name = f
            .path()
            .file_name()
            .context("the temporary has a file name")?
            .to_owned();
        output(
            Command::new("tar")
                .args(["--owner=0", "--group=0", "--numeric-owner", "-czf"])
                .arg(&tmp_name)
                .arg(name)
                .current_dir(dist),
        )?;
        f.commit()
    });
    let _ = std::fs::remove_dir_all(&stage);
    if let Err(e) = packed {
        return Err(e.context(format!("cannot create {}", archive.display())));
    }
    let sum = output(
        Command::new("sha256sum")
            .arg(&archive_name)
            .current_dir(dist),
    )?;
    let sha = dist.join(format!("{archive_name}.sha256"));
    write_atomic(&sha, sum.as_bytes())?;
    Ok((archive, sha))
}

/// Runs `cargo xtask release` with the arguments after `release`.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let root = root();
    let dry = o.dry_run;
    let say = |what: &str| {
        if dry {
            println!("[dry-run] would {what}");
        } else {
            println!("release: {what}");
        }
    };

    // 1. A clean tree.
    let status = output(
        Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(&root),
    )?;
    let dirty: Vec<&str> = status.lines().collect();
    if !dirty.is_empty() {
        let list = dirty
            .iter()
            .take(10)
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        if dry {
            println!(
                "[dry-run] the tree is dirty ({} paths); a real release would refuse:\n{list}",
                dirty.len()
            );
        } else {
            bail!(
                "the working tree is dirty ({} paths); commit or stash first:\n{list}",
                dirty.len()
            );
        }
    }

    // Work out everything before changing anything.
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).context("cannot read Cargo.toml")?;
    let old = workspace_version(&manifest)?;
    let new = old.bump(o.bump);
    let (new_manifest, n_deps) = set_workspace_version(&manifest, &new)?;
    let (subjects, tag) = commit_subjects(&root)?;
    let changelog_path = root.join("CHANGELOG.md");
    let changelog = match std::fs::read_to_string(&changelog_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).context("cannot read CHANGELOG.md"),
    };
    let date = today();
    let new_changelog = update_changelog(&changelog, &new, &date, &subjects);
    let triple = host_triple()?;
    let name = format!("snn-{new}-{triple}");
    let dist = target_dir(&root).join("dist");
    for f in PACKED_DOCS {
        if !(root.join(f).exists() || dry && f == "CHANGELOG.md") {
            bail!("{f} is missing at the workspace root; it goes into the release archive");
        }
    }

    // 2. Checks.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let checks: [&[&str]; 3] = [
        &["fmt", "--all", "--", "--check"],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &["test", "--workspace"],
    ];
    for c in checks {
        if !o.checks {
            println!("release: skipping `cargo {}` (--no-checks)", c.join(" "));
        } else if dry {
            say(&format!("run `cargo {}`", c.join(" ")));
        } else {
            step(Command::new(&cargo).args(c).current_dir(&root))?;
        }
    }

    // 3. Version.
    say(&format!(
        "bump the workspace version {old} -> {new} in Cargo.toml ({n_deps} internal dependency versions)"
    ));
    if !dry {
        write_atomic(&manifest_path, new_manifest.as_bytes())?;
    }

    // 4. Changelog.
    let since = tag
        .as_deref()
        .map_or_else(|| "the first commit".to_string(), |t| format!("tag {t}"));
    say(&format!(
        "add {} commit subjects since {since} to CHANGELOG.md as [{new}] - {date}",
        subjects.len()
    ));
    if dry {
        let section = render_section(&new, &date, &split_changelog(&changelog).1, &subjects);
        println!(
            "---- CHANGELOG.md section ----\n{}------------------------------",
            section
        );
    } else {
        write_atomic(&changelog_path, new_changelog.as_bytes())?;
    }

    // 5. Build and pack.
    say("run `cargo build --release -p snn-cli`");
    let bin = target_dir(&root)
        .join("release")
        .join(format!("snn{}", std::env::consts::EXE_SUFFIX));
    if !dry {
        step(
            Command::new(&cargo)
                .args(["build", "--release", "-p", "snn-cli"])
                .current_dir(&root),
        )
        .context(
            "the release build failed; Cargo.toml and CHANGELOG.md are already updated \
             (undo with `git checkout -- Cargo.toml Cargo.lock CHANGELOG.md`)",
        )?;
    }
    let archive = dist.join(format!("{name}.tar.gz"));
    say(&format!(
        "pack snn, {} into {} and write {}.sha256",
        PACKED_DOCS.join(", "),
        archive.display(),
        archive.display()
    ));
    if dry {
        println!("[dry-run] nothing was changed");
        return Ok(());
    }
    std::fs::create_dir_all(&dist).with_context(|| format!("cannot create {}", dist.display()))?;
    let mut files = vec![bin];
    files.extend(PACKED_DOCS.iter().map(|f| root.join(f)));
    let (archive, sha) = pack(&dist, &name, &files)?;
    println!("release: wrote {} and {}", archive.display(), sha.display());
    println!(
        "release: next, review and commit:\n  git commit -am \"Release v{new}\" && git tag v{new}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"0.1.0\" # the version\nedition = \"2024\"\n\n[workspace.dependencies]\nsnn-types = { path = \"crates/snn-types\", version = \"0.1.0\" }\nserde = { version = \"1.0.228\", features = [\"derive\"] }\ntoml = \"1.0\"\n\n[package]\nversion = \"9.9.9\"\n";

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_versions() {
        assert_eq!(
            v("1.2.3"),
            Version {
                major: 1,
                minor: 2,
                patch: 3,
                suffix: String::new()
            }
        );
        assert_eq!(
            v("0.10.0-alpha.1+build5").to_string(),
            "0.10.0-alpha.1+build5"
        );
        for bad in [
            "", "1", "1.2", "1.2.3.4", "a.b.c", "01.2.3", "1.2.-3", "1.2.3-", "1..3",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn bumps() {
        assert_eq!(v("0.1.0").bump(Bump::Patch).to_string(), "0.1.1");
        assert_eq!(v("0.1.9").bump(Bump::Minor).to_string(), "0.2.0");
        assert_eq!(v("1.4.7").bump(Bump::Major).to_string(), "2.0.0");
        assert_eq!(v("1.0.0-rc.1").bump(Bump::Patch).to_string(), "1.0.1");
        assert_eq!(Bump::parse("minor").unwrap(), Bump::Minor);
        assert!(Bump::parse("huge").is_err());
    }

    #[test]
    fn reads_and_sets_the_workspace_version() {
        assert_eq!(workspace_version(MANIFEST).unwrap(), v("0.1.0"));
        let (text, deps) = set_workspace_version(MANIFEST, &v("0.2.0")).unwrap();
        assert_eq!(deps, 1);
        assert_eq!(workspace_version(&text).unwrap(), v("0.2.0"));
        assert!(text.contains("version = \"0.2.0\" # the version\n"));
        assert!(text.contains("snn-types = { path = \"crates/snn-types\", version = \"0.2.0\" }"));
        // Registry dependencies and other sections are untouched.
        assert!(text.contains("serde = { version = \"1.0.228\""));
        assert!(text.contains("[package]\nversion = \"9.9.9\"\n"));
        assert_eq!(text.len(), MANIFEST.len());
        assert!(workspace_version("[package]\nversion = \"1.0.0\"\n").is_err());
        assert!(set_workspace_version("[workspace]\n", &v("1.0.0")).is_err());
    }

    #[test]
    fn the_real_manifest_has_a_version() {
        let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
        let cur = workspace_version(&text).unwrap();
        let (bumped, deps) = set_workspace_version(&text, &cur.bump(Bump::Minor)).unwrap();
        assert!(deps >= 1);
        assert_eq!(workspace_version(&bumped).unwrap(), cur.bump(Bump::Minor));
    }

    #[test]
    fn renders_a_section() {
        let s = render_section(
            &v("0.2.0"),
            "2026-01-02",
            "### Added\n\n- inspect\n",
            &["Fix a".into(), "Add b".into()],
        );
        assert_eq!(
            s,
            "## [0.2.0] - 2026-01-02\n\n### Added\n\n- inspect\n\n### Commits\n\n- Fix a\n- Add b\n\n"
        );
        assert_eq!(
            render_section(&v("0.2.0"), "d", "", &[]),
            "## [0.2.0] - d\n\nNo changes.\n\n"
        );
    }

    #[test]
    fn moves_unreleased_notes_into_the_release() {
        let old = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- x\n\n## [0.1.0] - 2025-01-01\n\n- first\n";
        let new = update_changelog(old, &v("0.1.1"), "2026-11-29", &["c1".into()]);
        assert_eq!(
            new,
            "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n## [0.1.1] - 2026-11-29\n\n### Added\n\n- x\n\n### Commits\n\n- c1\n\n## [0.1.0] - 2025-01-01\n\n- first\n"
        );
        // Released twice: the second release has only its commits.
        let again = update_changelog(&new, &v("0.1.2"), "2026-12-01", &["c2".into()]);
        assert!(again.starts_with("# Changelog\n\nIntro.\n\n## [Unreleased]\n\n## [0.1.2] - 2026-12-01\n\n### Commits\n\n- c2\n\n## [0.1.1]"));
    }

    #[test]
    fn creates_a_changelog_when_there_is_none() {
        let new = update_changelog("", &v("1.0.0"), "2026-11-29", &["init".into()]);
        assert!(new.starts_with("# Changelog\n"));
        assert!(
            new.contains("## [Unreleased]\n\n## [1.0.0] - 2026-11-29\n\n### Commits\n\n- init\n")
        );
        let no_unreleased =
            update_changelog("# Changelog\n\n## [0.1.0] - x\n", &v("0.2.0"), "d", &[]);
        assert_eq!(
            no_unreleased,
            "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - d\n\nNo changes.\n\n## [0.1.0] - x\n"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_786), "2026-11-29");
        assert_eq!(civil_date(-1), "1969-12-31");
    }

    #[test]
    fn packs_an_archive_with_its_checksum() {
        let dir = std::env::temp_dir().join(format!("xtask-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("snn");
        let b = dir.join("README.md");
        std::fs::write(&a, b"binary").unwrap();
        std::fs::write(&b, b"readme").unwrap();
        let dist = dir.join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        let (archive, sha) = pack(&dist, "snn-0.0.1-test", &[a, b]).unwrap();
        let list = output(Command::new("tar").arg("-tzf").arg(&archive)).unwrap();
        assert!(list.lines().any(|l| l == "snn-0.0.1-test/snn"), "{list}");
        assert!(
            list.lines().any(|l| l == "snn-0.0.1-test/README.md"),
            "{list}"
        );
        let sum = std::fs::read_to_string(&sha).unwrap();
        assert!(sum.ends_with("  snn-0.0.1-test.tar.gz\n"), "{sum}");
        assert_eq!(sum.split_whitespace().next().unwrap().len(), 64);
        output(
            Command::new("sha256sum")
                .arg("-c")
                .arg(sha.file_name().unwrap())
                .current_dir(&dist),
        )
        .unwrap();
        assert!(
            !dist.join("snn-0.0.1-test").exists(),
            "the staging folder is removed"
        );
        let mut names: Vec<String> = std::fs::read_dir(&dist)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["snn-0.0.1-test.tar.gz", "snn-0.0.1-test.tar.gz.sha256"],
            "no temporary file is left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dry_run_leaves_the_tree_unchanged() {
        let root = root();
        let before = output(
            Command::new("git")
                .args(["status", "--porcelain", "--untracked-files=all"])
                .current_dir(&root),
        )
        .unwrap();
        let manifest = std::fs::read(root.join("Cargo.toml")).unwrap();
        let args: Vec<String> = ["--dry-run", "--bump", "minor"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        run(&args).unwrap();
        let after = output(
            Command::new("git")
                .args(["status", "--porcelain", "--untracked-files=all"])
                .current_dir(&root),
        )
        .unwrap();
        assert_eq!(before, after);
        assert_eq!(manifest, std::fs::read(root.join("Cargo.toml")).unwrap());
    }
}
