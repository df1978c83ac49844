// The SQL editor: CodeMirror 6 with its SQL language in the PostgreSQL dialect.
import { basicSetup, EditorView } from "codemirror";
import { sql, PostgreSQL } from "@codemirror/lang-sql";

export function sqlEditor(parent, { doc = "", label = "SQL", onChange } = {}) {
  const view = new EditorView({
    doc,
    parent,
    extensions: [
      basicSetup,
      sql({ dialect: PostgreSQL }),
      EditorView.contentAttributes.of({ "aria-label": label }),
      EditorView.updateListener.of((u) => { if (u.docChanged && onChange) onChange(); }),
    ],
  });
  return {
    view,
    get value() { return view.state.doc.toString(); },
    set value(text) { view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }); },
    destroy() { view.destroy(); },
  };
}
