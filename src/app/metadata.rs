//! What the server is told about the app (`{appId, platform}`): the package of an APK, or
//! the `CFBundleIdentifier` of an iOS bundle — in an `.app` directory or inside a zip.

use super::{AppMetadata, AppPlatform, axml, info_plist};
use std::io::Read;
use std::path::Path;

/// The most of an `AndroidManifest.xml` dcd reads (real ones are well under 1 MiB).
const MAX_MANIFEST: u64 = 16 << 20;

fn open_zip(path: &Path) -> Result<zip::ZipArchive<std::io::BufReader<std::fs::File>>, String> {
    let (file, _) = crate::fsio::open_capped(path, u64::MAX).map_err(|e| e.to_string())?;
    zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable zip: {e}"))
}

/// Entry `index` of `zip`, at most `cap` bytes of it.
fn read_entry<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    index: usize,
    cap: u64,
) -> Result<Vec<u8>, String> {
    let entry = zip.by_index(index).map_err(|e| e.to_string())?;
    let name = crate::sanitize::one_line(&String::from_utf8_lossy(entry.name_raw()), 120);
    let mut bytes = Vec::new();
    entry
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!("{name} is larger than {} MiB", cap >> 20));
    }
    Ok(bytes)
}

/// The package id of the APK at `path`.
pub fn from_apk(path: &Path) -> Result<AppMetadata, String> {
    let mut zip = open_zip(path)?;
    let index = zip
        .index_for_name("AndroidManifest.xml")
        .ok_or("the APK has no AndroidManifest.xml")?;
    let bytes = read_entry(&mut zip, index, MAX_MANIFEST)?;
    let app_id = axml::package_name(&bytes).map_err(|e| e.to_string())?;
    Ok(AppMetadata {
        app_id,
        platform: AppPlatform::Android,
    })
}

/// The bundle id of the `.app` directory `dir`, from its `Info.plist`.
pub fn from_app_dir(dir: &Path) -> Result<AppMetadata, String> {
    let plist = dir.join("Info.plist");
    let bytes = crate::fsio::read_capped(&plist, info_plist::MAX_INFO_PLIST)
        .map_err(|e| format!("cannot read Info.plist: {e}"))?;
    Ok(AppMetadata {
        app_id: info_plist::bundle_id(&bytes)?,
        platform: AppPlatform::Ios,
    })
}

/// The index of the shallowest `*.app/Info.plist` among `names` (the first of equals, in
/// archive order), leaving out `__MACOSX/`.
pub fn shallowest_info_plist<'a>(names: impl Iterator<Item = &'a [u8]>) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, raw) in names.enumerate() {
        let name = String::from_utf8_lossy(raw);
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        let is_plist = match parts.as_slice() {
            [.., bundle, "Info.plist"] => bundle.ends_with(".app"),
            _ => false,
        };
        if !is_plist || parts[0] == "__MACOSX" {
            continue;
        }
        if best.is_none_or(|(depth, _)| parts.len() < depth) {
            best = Some((parts.len(), i));
        }
    }
    best.map(|(_, i)| i)
}

/// The bundle id of the zipped bundle at `path`: the shallowest `*.app/Info.plist` in it.
pub fn from_zip(path: &Path) -> Result<AppMetadata, String> {
    let mut zip = open_zip(path)?;
    let index =
        shallowest_info_plist(zip.file_names_raw()).ok_or("the zip has no *.app/Info.plist")?;
    let bytes = read_entry(&mut zip, index, info_plist::MAX_INFO_PLIST)?;
    Ok(AppMetadata {
        app_id: info_plist::bundle_id(&bytes)?,
        platform: AppPlatform::Ios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shallowest_bundle_plist_wins_and_macos_copies_are_ignored() {
        let names: [&[u8]; 6] = [
            b"Outer.app/Frameworks/Inner.app/Info.plist",
            b"__MACOSX/A.app/Info.plist",
            b"Outer.app/",
            b"Outer.app/Info.plist",
            b"Other.app/Info.plist",
            b"Outer.app/Info.plist.bak",
        ];
        assert_eq!(shallowest_info_plist(names.into_iter()), Some(3));
        let none: [&[u8]; 2] = [b"Info.plist", b"dir/Info.plist"];
        assert_eq!(shallowest_info_plist(none.into_iter()), None);
    }
}
