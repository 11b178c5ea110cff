"""Tooling only this repository uses; not part of the `salestalk-lib` wheel.

The benchmark (`bench`), the `make run` driver (`run`), notebook execution
(`notebook_exec`), docs generation (`docsgen`, `site_docs`, `contract_docs`), the engine
parity probes (`parity`), the Terraform and IAM checks (`terraform_check`, `policy_lint`,
`iam_terraform`) and the isolation matrix (`isolation`). It may import the library's public
modules; the library never imports it. Run from the repository root (`python -m devtools.X`).
"""
