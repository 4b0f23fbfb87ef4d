use super::*;

fn tgz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, text: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // `set_path` refuses `..`; write the raw name as a hostile archive would.
    let name = &mut header.as_old_mut().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_cksum();
    builder.append(&header, text.as_bytes()).unwrap();
}

#[test]
fn a_chart_unpacks_into_its_directory() {
    let bytes = tgz(|b| {
        file(b, "web/Chart.yaml", "name: web\nversion: 1.0.0\n");
        file(b, "web/templates/cm.yaml", "kind: ConfigMap\n");
    });
    let dir = tempfile::tempdir().unwrap();
    let chart = unpack_chart(&bytes, &dir.path().join("x")).unwrap();
    assert_eq!(chart, dir.path().join("x/web"));
    assert!(chart.join("templates/cm.yaml").is_file());
    make_read_only(&dir.path().join("x")).unwrap();
    assert!(std::fs::metadata(chart.join("Chart.yaml")).unwrap().permissions().readonly());
}

#[test]
fn escaping_paths_and_links_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dotdot = tgz(|b| file(b, "web/../../evil.yaml", "x"));
    let err = unpack_chart(&dotdot, &dir.path().join("a")).unwrap_err();
    assert!(err.contains("leaving the chart"), "{err}");
    assert!(!dir.path().join("evil.yaml").exists());

    let absolute = tgz(|b| file(b, "/tmp/evil.yaml", "x"));
    assert!(unpack_chart(&absolute, &dir.path().join("b")).is_err());

    let link = tgz(|b| {
        file(b, "web/Chart.yaml", "name: web\n");
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        b.append_link(&mut header, "web/templates", "/etc").unwrap();
    });
    let err = unpack_chart(&link, &dir.path().join("c")).unwrap_err();
    assert!(err.contains("Symlink"), "{err}");

    assert!(unpack_chart(b"not gzip", &dir.path().join("d")).is_err());
    let no_chart = tgz(|b| file(b, "web/values.yaml", "a: 1"));
    assert!(unpack_chart(&no_chart, &dir.path().join("e")).unwrap_err().contains("Chart.yaml"));
}
