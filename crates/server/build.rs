//! Embeds the dashboard's player library (hls.js from npm, `web/node_modules`) when it
//! has been installed (`npm ci` in `web/`, which `scripts/demo` and `scripts/test` do).
//! Without it the binary still builds; the dashboard then says the player is missing and
//! shows the stream URLs instead.

use std::path::PathBuf;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let hls = manifest.join("../../web/node_modules/hls.js/dist/hls.min.js");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("hls.min.js");
    println!("cargo:rustc-check-cfg=cfg(openvod_player)");
    match std::fs::copy(&hls, &out) {
        Ok(_) => {
            println!("cargo:rerun-if-changed={}", hls.display());
            println!("cargo:rustc-cfg=openvod_player");
        }
        Err(_) => {
            // A missing path would make cargo run this script on every build; watch the
            // folder instead, which changes when `npm ci` creates node_modules.
            println!(
                "cargo:rerun-if-changed={}",
                manifest.join("../../web").display()
            );
            println!("cargo:warning=web/node_modules/hls.js is not installed (npm ci in web/): the dashboard will have no player");
            std::fs::write(&out, b"").expect("OUT_DIR is writable");
        }
    }
}
