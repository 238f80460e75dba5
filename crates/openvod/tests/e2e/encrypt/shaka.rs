//! Shaka Packager as an outside reference: found or installed, and run.

use super::*;

/// The Shaka Packager binary, installed with npm when missing; `Err` says why not.
pub(super) fn shaka_packager() -> Result<PathBuf, String> {
    static SHAKA: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    SHAKA
        .get_or_init(|| {
            if let Ok(p) = std::env::var("SHAKA_PACKAGER") {
                let p = PathBuf::from(p);
                return if p.is_file() {
                    Ok(p)
                } else {
                    Err(format!("SHAKA_PACKAGER={} does not exist", p.display()))
                };
            }
            let arch = match std::env::consts::ARCH {
                "x86_64" => "x64",
                "aarch64" => "arm64",
                other => return Err(format!("no prebuilt Shaka Packager for {other}")),
            };
            let home = std::env::var("HOME").map_err(|_| "HOME is not set".to_string())?;
            let prefix = PathBuf::from(home).join(".cache/openvod/shaka-packager");
            let bin = prefix.join(format!(
                "node_modules/shaka-packager/bin/packager-linux-{arch}"
            ));
            if !bin.is_file() {
                eprintln!("installing shaka-packager@3.4 into {}...", prefix.display());
                std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
                let out = Command::new("npm")
                    .args([
                        "install",
                        "--no-audit",
                        "--no-fund",
                        "--no-update-notifier",
                        "--prefix",
                    ])
                    .arg(&prefix)
                    .arg("shaka-packager@3.4")
                    .output()
                    .map_err(|e| {
                        format!(
                            "npm does not run ({e}); run scripts/setup.sh's need_shaka_packager"
                        )
                    })?;
                if !out.status.success() {
                    return Err(format!(
                        "npm install shaka-packager failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            let version = Command::new(&bin)
                .arg("--version")
                .output()
                .map_err(|e| format!("{} does not run: {e}", bin.display()))?;
            if !version.status.success() {
                return Err(format!("{} --version failed", bin.display()));
            }
            Ok(bin)
        })
        .clone()
}

/// Shaka Packager, or `None` after a loud skip (a failure under `CI=true`).
pub(super) fn shaka_or_skip(test: &str) -> Option<PathBuf> {
    match shaka_packager() {
        Ok(p) => Some(p),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: Shaka Packager is required in CI: {why}")
        }
        Err(why) => {
            eprintln!("\n*** SKIPPED: {test}: Shaka Packager is not available: {why} ***\n");
            None
        }
    }
}

pub(super) fn run_shaka(bin: &Path, args: &[String]) {
    let out = Command::new(bin)
        .args(args)
        .arg("--quiet")
        .output()
        .expect("Shaka Packager runs");
    assert!(
        out.status.success(),
        "packager {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(super) fn shaka_key_args() -> String {
    format!("label=:key_id={KID}:key={KEY}")
}

/// The IVs these tests give Shaka Packager: an 8-byte one for `cenc`, a 16-byte constant
/// one for `cbcs`.
pub(super) const SHAKA_IVS: [(&str, &str); 2] = [
    ("cenc", "0011223344556677"),
    ("cbcs", "00112233445566778899aabbccddeeff"),
];

/// Shaka Packager encrypts the `stream` (`video` or `audio`) of `input` into `output`
/// with the test key under `scheme`, from the first sample (no clear lead).
pub(super) fn shaka_encrypt(
    bin: &Path,
    input: &Path,
    stream: &str,
    output: &Path,
    scheme: &str,
    iv: &str,
) {
    run_shaka(
        bin,
        &[
            format!(
                "in={},stream={stream},output={}",
                input.display(),
                output.display()
            ),
            "--enable_raw_key_encryption".into(),
            "--keys".into(),
            shaka_key_args(),
            "--protection_scheme".into(),
            scheme.into(),
            "--iv".into(),
            iv.into(),
            "--clear_lead".into(),
            "0".into(),
        ],
    );
}
