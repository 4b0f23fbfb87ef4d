use super::*;

/// A tar+gzip of `entries` written raw, so paths the `tar` builder would refuse can be tested.
fn layer(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, kind, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        let name = path.as_bytes();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn extract(bytes: &[u8], max: u64) -> (tempfile::TempDir, Result<(), ExtractError>) {
    let dir = tempfile::tempdir().unwrap();
    let result = extract_tar_gz(bytes, dir.path(), max);
    (dir, result)
}

#[test]
fn files_and_directories_unpack_in_place() {
    let bytes = layer(&[
        ("./", tar::EntryType::Directory, b"", None),
        ("app/", tar::EntryType::Directory, b"", None),
        ("app/deploy.yaml", tar::EntryType::Regular, b"kind: ConfigMap\n", None),
        ("top.yaml", tar::EntryType::Regular, b"a: 1\n", None),
    ]);
    let (dir, result) = extract(&bytes, 1024);
    result.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("app/deploy.yaml")).unwrap(), "kind: ConfigMap\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("top.yaml")).unwrap(), "a: 1\n");
}

#[test]
fn parent_paths_absolute_paths_and_links_are_refused() {
    let cases: [(&str, tar::EntryType, Option<&str>); 4] = [
        ("../evil.yaml", tar::EntryType::Regular, None),
        ("app/../../evil.yaml", tar::EntryType::Regular, None),
        ("link.yaml", tar::EntryType::Symlink, Some("/etc/passwd")),
        ("hard.yaml", tar::EntryType::Link, Some("app.yaml")),
    ];
    for (path, kind, link) in cases {
        let bytes = layer(&[(path, kind, b"x: 1\n", link)]);
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("root");
        std::fs::create_dir(&dir).unwrap();
        let result = extract_tar_gz(bytes.as_slice(), &dir, 1024);
        assert!(matches!(result, Err(ExtractError::Unsafe(_))), "{path}: {result:?}");
        assert!(!outer.path().join("evil.yaml").exists(), "{path} escaped");
    }
    let bytes = layer(&[("/abs.yaml", tar::EntryType::Regular, b"x", None)]);
    assert!(matches!(extract(&bytes, 1024).1, Err(ExtractError::Unsafe(_))));
}

#[test]
fn content_beyond_the_cap_is_refused() {
    let big = vec![b'a'; 600];
    let bytes =
        layer(&[("a.yaml", tar::EntryType::Regular, &big, None), ("b.yaml", tar::EntryType::Regular, &big, None)]);
    assert_eq!(extract(&bytes, 1000).1, Err(ExtractError::TooLarge { limit: 1000 }));
    assert_eq!(extract(&bytes, 1200).1, Ok(()));
}

#[test]
fn garbage_is_an_io_error_and_charts_have_one_directory() {
    assert!(matches!(extract(b"not gzip", 10).1, Err(ExtractError::Io(_))));
    let bytes = layer(&[("guestbook/Chart.yaml", tar::EntryType::Regular, b"name: guestbook\n", None)]);
    let (dir, result) = extract(&bytes, 1024);
    result.unwrap();
    assert_eq!(chart_root(dir.path()).unwrap(), dir.path().join("guestbook"));
    let empty = tempfile::tempdir().unwrap();
    assert!(chart_root(empty.path()).is_err());
}
