// bpmnlint for the designer: reads BPMN XML on stdin, prints the findings as JSON on stdout.
// Run by web/designer.py with Node; rules: bpmnlint's "recommended" set.
"use strict";
const { BpmnModdle } = require("bpmn-moddle");
const Linter = require("bpmnlint/lib/linter");
const NodeResolver = require("bpmnlint/lib/resolver/node-resolver");

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) { chunks.push(chunk); }
  const xml = Buffer.concat(chunks).toString("utf8");
  const { rootElement } = await new BpmnModdle().fromXML(xml);
  const linter = new Linter({ config: { extends: "bpmnlint:recommended" }, resolver: new NodeResolver() });
  const results = await linter.lint(rootElement);
  const findings = [];
  for (const [rule, reports] of Object.entries(results)) {
    for (const report of reports) {
      findings.push({ rule, element: report.id || null, message: report.message, category: report.category });
    }
  }
  process.stdout.write(JSON.stringify(findings));
}

main().catch((err) => {
  process.stdout.write(JSON.stringify([{ rule: "parse", element: null, message: String(err.message || err),
                                         category: "error" }]));
});
