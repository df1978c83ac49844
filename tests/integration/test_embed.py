"""scripts/embed_ui.py: the UI is embedded whole, folders included, each file at its path."""
import re
import subprocess
import sys

from conftest import ROOT

def test_every_file_of_the_tree_is_embedded_at_its_path(tmp_path):
    ui = tmp_path / "ui"
    (ui / "pages").mkdir(parents=True)
    (ui / "node_modules" / "lib").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html>")
    (ui / "pages" / "topology.js").write_text("export default 1;")
    (ui / "node_modules" / "lib" / "x.js").write_text("left out")
    (ui / ".hidden.js").write_text("left out")
    (ui / "meson.build").write_text("# build file, left out")
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "001.sql").write_text("SELECT 1;")
    out, dep = tmp_path / "assets.c", tmp_path / "assets.d"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "embed_ui.py"), str(out), str(dep),
                    f"{ui}=/", f"{samples}=/samples"], check=True)
    paths = re.findall(r'\{"(/[^"]*)", "([^"]*)"', out.read_text())
    assert paths == [("/index.html", "text/html; charset=utf-8"),
                     ("/pages/topology.js", "text/javascript; charset=utf-8"),
                     ("/samples/001.sql", "text/plain; charset=utf-8")]
    # the depfile names the folders too, so a file added to one rebuilds the table
    deps = dep.read_text()
    assert str(ui / "pages") in deps and str(ui / "pages" / "topology.js") in deps

def test_an_unknown_file_type_stops_the_build(tmp_path):
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "notes.docx").write_text("?")
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "embed_ui.py"), str(tmp_path / "a.c"),
                        str(tmp_path / "a.d"), f"{tmp_path / 'ui'}=/"], capture_output=True, text=True)
    assert p.returncode != 0 and "no content type" in p.stderr
