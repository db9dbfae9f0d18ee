//! `signet completions` and `signet man` through the real binary: every shell's script is
//! generated, names the commands, and is valid for the shells installed here (`bash -n`,
//! `zsh -n`, `fish --no-execute`); the manual has one page per command, and each page renders
//! (`groff -k -man`, as `man` runs it, and `man -l`) when those are installed, and is roff with a `.TH` header always.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use signet_testkit::process::{run, stderr, stdout};

/// Runs `signet ARGS` with a throwaway home; panics unless it succeeds.
fn signet(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("tmp");
    let out = run(home.path(), args);
    assert!(out.status.success(), "signet {args:?}: {}", stderr(&out));
    out
}

/// Whether `program` runs here (`program --version` succeeds).
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `program ARGS FILE` and asserts it accepts the file.
fn check_with(program: &str, args: &[&str], file: &Path) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?} {}: {}",
        file.display(),
        stderr(&out)
    );
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    // What each script must mention: a top-level command, a nested one, a global flag.
    let commands = ["secret", "machine", "completions", "rotation"];
    for (shell, file, check) in [
        ("bash", "signet.bash", Some(("bash", &["-n"][..]))),
        ("zsh", "_signet", Some(("zsh", &["-n"][..]))),
        ("fish", "signet.fish", Some(("fish", &["--no-execute"][..]))),
        ("powershell", "signet.ps1", None),
        ("elvish", "signet.elv", None),
    ] {
        let script = stdout(&signet(&["completions", shell]));
        assert!(script.len() > 10_000, "{shell}: {} bytes", script.len());
        for word in commands {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
        // fish spells a long flag `-l json`.
        let flag = if shell == "fish" { "-l json" } else { "--json" };
        assert!(script.contains(flag), "{shell} script lacks {flag}");
        let path = dir.path().join(file);
        std::fs::write(&path, &script).expect("write script");
        match check {
            Some((program, args)) if installed(program) => check_with(program, args, &path),
            Some((program, _)) => {
                eprintln!("{program} is not installed: {shell} script not parsed")
            }
            None => {
                let hook = match shell {
                    "powershell" => "Register-ArgumentCompleter",
                    _ => "edit:completion:arg-completer[signet]",
                };
                assert!(script.contains(hook), "{shell} script lacks {hook}");
            }
        }
    }
}

#[test]
fn bash_completes_subcommands_and_flags() {
    if !installed("bash") {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("signet.bash");
    std::fs::write(&path, stdout(&signet(&["completions", "bash"]))).expect("write");
    // What bash offers after `signet secret cr<TAB>` and `signet get --ide<TAB>`.
    let offer = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let script = format!(
            "source {path}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; \
             COMP_POINT=${{#COMP_LINE}}; _signet signet '{cur}' '{prev}'; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path = path.display(),
            words = words.join(" "),
            cword = words.len() - 1,
            cur = words[words.len() - 1],
            prev = words[words.len() - 2],
        );
        let out = Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("bash");
        assert!(out.status.success(), "{line}: {}", stderr(&out));
        stdout(&out)
    };
    let secret = offer("signet secret cr");
    assert!(secret.lines().any(|l| l == "create"), "{secret:?}");
    let get = offer("signet get --ide");
    assert!(get.lines().any(|l| l == "--identity"), "{get:?}");
}

#[test]
fn the_manual_has_a_rendering_page_per_command() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = signet(&["--json", "man", "--out", dir.path().to_str().expect("utf8")]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let pages: Vec<String> = answer["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .map(|p| p.as_str().expect("name").to_owned())
        .collect();
    for page in [
        "signet.1",
        "signet-secret.1",
        "signet-secret-create.1",
        "signet-completions.1",
        "signet-man.1",
        "signet-operator-init.1",
    ] {
        assert!(
            pages.iter().any(|p| p == page),
            "{page} missing from {pages:?}"
        );
    }
    assert!(
        !pages.iter().any(|p| p.contains("help")),
        "clap's help is no page: {pages:?}"
    );
    assert!(pages.len() > 100, "{} pages", pages.len());
    let on_disk = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(on_disk, pages.len());

    let groff = installed("groff");
    for page in &pages {
        let path = dir.path().join(page);
        let text = std::fs::read_to_string(&path).expect("page");
        let title = page.trim_end_matches(".1");
        assert!(
            text.lines()
                .any(|l| l.starts_with(".TH ") && l.contains(title)),
            "{page}: no .TH header naming it"
        );
        assert!(text.contains(".SH NAME"), "{page}: no NAME section");
        if groff {
            let out = Command::new("groff")
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .arg(&path)
                .output()
                .expect("groff");
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "groff {page}: {}",
                stderr(&out)
            );
        }
    }

    // The top page, printed without --out, reads as a manual (`signet man | man -l -`).
    let top = stdout(&signet(&["man"]));
    assert!(
        top.starts_with(".ie") || top.contains(".TH signet"),
        "{top:.200}"
    );
    if installed("man") {
        let path = dir.path().join("signet.1");
        let out = Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(&path)
            .env("MANWIDTH", "100")
            .output()
            .expect("man");
        assert!(out.status.success(), "man -l: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("NAME") && text.contains("SUBCOMMANDS"),
            "{text:.500}"
        );
        assert!(text.contains("signet-secret(1)"), "{text:.2000}");
    }
}

#[test]
fn fish_completes_values_whose_help_has_double_quotes() {
    // `export --format dotenv`'s help says `KEY="value"`: an unescaped quote there once broke
    // the whole fish script.
    if !installed("fish") {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("signet.fish");
    std::fs::write(&path, stdout(&signet(&["completions", "fish"]))).expect("write");
    let out = Command::new("fish")
        .args(["--no-config", "-c"])
        .arg(format!(
            "source {}; complete -C 'signet export --format '",
            path.display()
        ))
        .output()
        .expect("fish");
    assert!(out.status.success(), "fish: {}", stderr(&out));
    let offered: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect();
    for format in ["env", "dotenv", "yaml", "json"] {
        assert!(offered.iter().any(|o| o == format), "{format}: {offered:?}");
    }
}
