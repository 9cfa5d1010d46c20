// Renders /openapi.json as a list of operations grouped by tag. No external assets: the
// Content-Security-Policy allows scripts and styles from this origin only.
"use strict";

function element(tag, attributes, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children || []) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return { name, schema: spec.components.schemas[name] };
  }
  return { name: null, schema };
}

function schemaBlock(spec, schema) {
  const { name, schema: resolved } = resolve(spec, schema);
  return element("div", {}, [
    name ? element("p", {}, [element("code", {}, [name])]) : "",
    element("pre", {}, [JSON.stringify(resolved, null, 2)]),
  ]);
}

function operationBlock(spec, path, method, operation) {
  const parts = [];
  if (operation.description) parts.push(element("p", {}, [operation.description]));
  const parameters = operation.parameters || [];
  if (parameters.length) {
    const rows = parameters.map((p) => element("tr", {}, [
      element("td", {}, [element("code", {}, [p.name])]),
      element("td", {}, [p.in]),
      element("td", {}, [p.required ? "required" : "optional"]),
      element("td", {}, [p.description || ""]),
    ]));
    parts.push(element("h4", {}, ["Parameters"]), element("table", {}, rows));
  }
  const body = operation.requestBody && operation.requestBody.content;
  if (body) {
    for (const [type, content] of Object.entries(body)) {
      parts.push(element("h4", {}, ["Request body (" + type + ")"]), schemaBlock(spec, content.schema));
    }
  }
  parts.push(element("h4", {}, ["Responses"]));
  for (const [status, response] of Object.entries(operation.responses || {})) {
    const content = response.content && response.content["application/json"];
    parts.push(element("p", {}, [element("strong", {}, [status]), " " + (response.description || "")]));
    if (content && content.schema) parts.push(schemaBlock(spec, content.schema));
  }
  const summary = element("summary", {}, [
    element("span", { class: "method " + method }, [method.toUpperCase()]),
    element("code", {}, [path]),
    " — " + (operation.summary || ""),
  ]);
  return element("details", {}, [summary, ...parts]);
}

async function render() {
  const target = document.getElementById("operations");
  const spec = await (await fetch("/openapi.json")).json();
  const byTag = new Map();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const tag = (operation.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operationBlock(spec, path, method, operation));
    }
  }
  target.replaceChildren();
  for (const [tag, blocks] of byTag) target.append(element("h2", {}, [tag]), ...blocks);
}

render().catch((error) => {
  document.getElementById("operations").textContent = "Cannot load the specification: " + error;
});
