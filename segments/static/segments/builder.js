/* Segment builder: draws the rules JSON as rows of field / operator / value widgets in nested
   AND / OR / NOT groups, and writes the JSON back into the textarea on every change (which the live
   preview listens to). The textarea is the "advanced" view: valid JSON typed there redraws the rows.
   Namespace: window.WinbackRulesBuilder. Data: the "rules-builder-data" JSON script tag. */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key === "class" || key === "type" || key === "title") node.setAttribute(key, value);
      else node[key] = value;
    });
    (children || []).forEach((child) => child && node.appendChild(child));
    return node;
  }

  function Builder(root) {
    this.root = root;
    this.textarea = document.getElementById(root.dataset.textarea);
    this.tree = root.querySelector(".rb-tree");
    const data = JSON.parse(root.querySelector("#rules-builder-data").textContent);
    this.fields = {};
    data.catalogue.forEach((field) => { this.fields[field.key] = field; });
    this.catalogue = data.catalogue;
    this.choices = data.choices;
    this.textarea.addEventListener("input", (event) => { if (!event.fromBuilder) this.load(); });
    // The JSON starts closed (marketers build with the rows); it opens when it cannot be drawn as
    // rows (invalid JSON after a failed save) and for a user who opened it before.
    const advanced = root.querySelector(".rb-advanced");
    try { JSON.parse(this.textarea.value || "{}"); } catch (error) { advanced.open = true; }
    try {
      if (window.localStorage.getItem("winback.rules.advanced") === "open") advanced.open = true;
      advanced.addEventListener("toggle", () => {
        window.localStorage.setItem("winback.rules.advanced", advanced.open ? "open" : "closed");
      });
    } catch (error) { /* storage blocked: keep the default */ }
    this.load();
  }

  /* --- the model: a group is {op: "and"|"or", not: bool, rules: [...], bare: bool} ----------- */

  Builder.prototype.read = function (node) {
    if (node && node.op === "not" && Array.isArray(node.rules) && node.rules.length === 1) {
      const inner = node.rules[0];
      if (inner && (inner.op === "and" || inner.op === "or")) return {...this.read(inner), not: true};
      return {op: "and", not: true, rules: [this.readChild(inner)]};
    }
    if (node && (node.op === "and" || node.op === "or") && Array.isArray(node.rules)) {
      return {op: node.op, not: false, rules: node.rules.map((child) => this.readChild(child))};
    }
    if (!node || !Object.keys(node).length) return {op: "and", not: false, rules: []};
    return {op: "and", not: false, bare: true, rules: [this.readChild(node)]};
  };

  Builder.prototype.readChild = function (node) {
    if (node && ["and", "or", "not"].includes(node.op)) return this.read(node);
    return {condition: {...node}};
  };

  Builder.prototype.write = function (group, top) {
    const rules = group.rules.map((child) => (child.condition ? child.condition : this.write(child, false)));
    if (group.not) return rules.length === 1 ? {op: "not", rules: rules} : {op: "not", rules: [{op: group.op, rules: rules}]};
    if (top && !rules.length) return {};
    if (top && group.bare && rules.length === 1) return rules[0];
    return {op: group.op, rules: rules};
  };

  Builder.prototype.load = function () {
    const text = this.textarea.value.trim();
    let tree;
    try { tree = text ? JSON.parse(text) : {}; } catch (error) {
      this.tree.replaceChildren(el("p", {class: "rb-error", text: "The JSON below is not valid: " + error.message}));
      return;
    }
    this.model = this.read(tree);
    this.draw();
  };

  Builder.prototype.changed = function (redraw) {
    if (this.model.rules.length !== 1) this.model.bare = false;
    const tree = this.write(this.model, true);
    this.textarea.value = JSON.stringify(tree, null, 2);
    const event = new Event("input", {bubbles: true});
    event.fromBuilder = true;
    this.textarea.dispatchEvent(event);
    if (redraw) this.draw();
  };

  /* --- drawing --------------------------------------------------------------------------------- */

  Builder.prototype.draw = function () {
    this.tree.replaceChildren(this.drawGroup(this.model, null, "0"));
  };

  Builder.prototype.drawGroup = function (group, parent, path) {
    const box = el("div", {class: "rb-group" + (group.not ? " rb-not" : ""), "data-group": path});
    const mode = el("select", {"data-role": "group-op", title: "How the rows of this group combine"}, [
      el("option", {value: "and", text: "All of these (AND)"}),
      el("option", {value: "or", text: "Any of these (OR)"}),
    ]);
    mode.value = group.op;
    mode.addEventListener("change", () => { group.op = mode.value; this.changed(false); });
    const negate = el("input", {type: "checkbox", checked: !!group.not, "data-role": "group-not"});
    negate.addEventListener("change", () => { group.not = negate.checked; this.changed(true); });
    const head = el("div", {class: "rb-head"}, [
      mode,
      el("label", {}, [negate, document.createTextNode(" NOT (exclude those who match)")]),
    ]);
    if (parent) {
      const remove = el("button", {type: "button", class: "button rb-remove", text: "Remove group"});
      remove.addEventListener("click", () => { parent.rules.splice(parent.rules.indexOf(group), 1); this.changed(true); });
      head.appendChild(remove);
    }
    box.appendChild(head);
    group.rules.forEach((child, index) => {
      const childPath = path + "." + index;
      box.appendChild(child.condition ? this.drawRow(child, group, childPath) : this.drawGroup(child, group, childPath));
    });
    const addRow = el("button", {type: "button", class: "button", text: "+ Condition", "data-role": "add-condition"});
    addRow.addEventListener("click", () => {
      const first = this.catalogue[0];
      group.rules.push({condition: this.example(first.key)});
      this.changed(true);
    });
    const addGroup = el("button", {type: "button", class: "button", text: "+ Group", "data-role": "add-group"});
    addGroup.addEventListener("click", () => {
      group.rules.push({op: "or", not: false, rules: [{condition: this.example(this.catalogue[0].key)}]});
      this.changed(true);
    });
    box.appendChild(el("div", {class: "rb-buttons"}, [addRow, addGroup]));
    return box;
  };

  Builder.prototype.example = function (key) {
    const field = this.fields[key];
    if (field && field.example) return JSON.parse(JSON.stringify(field.example));
    const op = field ? field.operators[0].key : "eq";
    return {field: key, operator: op};
  };

  Builder.prototype.drawRow = function (child, group, path) {
    const condition = child.condition;
    const field = this.fields[condition.field];
    const row = el("div", {class: "rb-row", "data-condition": path});
    const search = el("input", {type: "search", class: "rb-field-search", placeholder: "Find field…", "data-role": "field-search"});
    const fieldSelect = el("select", {"data-role": "field"});
    const groups = {};
    this.catalogue.forEach((spec) => {
      if (!groups[spec.group]) { groups[spec.group] = el("optgroup", {label: spec.group}); fieldSelect.appendChild(groups[spec.group]); }
      groups[spec.group].appendChild(el("option", {value: spec.key, text: spec.label}));
    });
    if (!field) fieldSelect.appendChild(el("option", {value: condition.field, text: String(condition.field) + " (unknown)"}));
    fieldSelect.value = condition.field;
    search.addEventListener("input", () => {
      const needle = search.value.trim().toLowerCase();
      let firstMatch = null;
      fieldSelect.querySelectorAll("option").forEach((option) => {
        const hit = !needle || option.textContent.toLowerCase().includes(needle) || option.value.includes(needle);
        option.hidden = !hit;
        if (hit && !firstMatch) firstMatch = option;
      });
      if (needle && firstMatch && firstMatch.value !== condition.field) {
        child.condition = this.example(firstMatch.value);
        this.changed(true);
        const again = this.tree.querySelector(`[data-condition="${path}"] [data-role=field-search]`);
        if (again) { again.value = search.value; again.focus(); }
      }
    });
    fieldSelect.addEventListener("change", () => { child.condition = this.example(fieldSelect.value); this.changed(true); });
    row.append(search, fieldSelect);
    if (field) {
      if (field.type === "attribute") row.appendChild(this.keyInput(condition));
      if (field.type === "history") row.appendChild(this.historyInput(condition));
      const opSelect = el("select", {"data-role": "operator"});
      field.operators.forEach((op) => opSelect.appendChild(el("option", {value: op.key, text: op.label})));
      opSelect.value = condition.operator;
      opSelect.addEventListener("change", () => {
        const before = this.shape(field, condition.operator);
        condition.operator = opSelect.value;
        const after = this.shape(field, condition.operator);
        if (after === "none") delete condition.value;
        else if (after !== before) condition.value = this.defaultValue(field, after);
        this.changed(true);
      });
      row.appendChild(opSelect);
      const value = this.valueWidget(field, condition);
      if (value) row.appendChild(value);
      const known = new Set(["field", "operator", "value", "key", "attribute"]);
      const extra = Object.keys(condition).filter((key) => !known.has(key));
      if (extra.length) {
        row.appendChild(el("span", {class: "rb-note", title: "Edit in the advanced JSON",
          text: extra.map((key) => `${key}: ${JSON.stringify(condition[key])}`).join(", ")}));
      }
    }
    const remove = el("button", {type: "button", class: "button rb-remove", text: "×", title: "Remove this condition"});
    remove.addEventListener("click", () => { group.rules.splice(group.rules.indexOf(child), 1); this.changed(true); });
    row.appendChild(remove);
    return row;
  };

  Builder.prototype.shape = function (field, operator) {
    const op = field.operators.find((candidate) => candidate.key === operator);
    return op ? op.value : "one";
  };

  Builder.prototype.defaultValue = function (field, shape) {
    if (shape === "list") return [];
    if (shape === "days") return 30;
    if (shape === "range") return field.type === "date" ? [{days_ago: 30}, {days_ago: 0}] : [0, 10];
    if (field.type === "bool") return true;
    if (field.type === "date") return {days_ago: 30};
    if (["number", "count", "amount", "days"].includes(field.type)) return 0;
    return "";
  };

  Builder.prototype.keyInput = function (condition) {
    const listId = "rb-attribute-keys";
    if (!document.getElementById(listId)) {
      const list = el("datalist", {id: listId});
      (this.choices.attribute_keys || []).forEach((choice) => list.appendChild(el("option", {value: choice.value})));
      this.root.appendChild(list);
    }
    const input = el("input", {type: "text", value: condition.key || "", placeholder: "attribute", "data-role": "key"});
    input.setAttribute("list", listId);
    input.addEventListener("change", () => { condition.key = input.value.trim(); this.changed(false); });
    return input;
  };

  Builder.prototype.historyInput = function (condition) {
    const select = el("select", {"data-role": "history-attribute"});
    (this.choices.score_attributes || []).forEach((c) => select.appendChild(el("option", {value: c.value, text: c.label})));
    select.value = condition.attribute || "segment";
    select.addEventListener("change", () => { condition.attribute = select.value; this.changed(false); });
    return select;
  };

  Builder.prototype.valueWidget = function (field, condition) {
    const shape = this.shape(field, condition.operator);
    if (shape === "none") return null;
    if (shape === "days") return this.numberInput(condition, "value", "days");
    if (shape === "list") return this.multiSelect(field, condition);
    if (shape === "range") {
      const pair = Array.isArray(condition.value) ? condition.value : this.defaultValue(field, "range");
      condition.value = pair;
      const one = (index) => (field.type === "date" ? this.dateInput(pair, index) : this.numberInput(pair, index, ""));
      return el("span", {}, [one(0), document.createTextNode(" and "), one(1)]);
    }
    if (field.type === "bool") {
      const select = el("select", {"data-role": "value"}, [el("option", {value: "true", text: "yes"}), el("option", {value: "false", text: "no"})]);
      select.value = condition.value === false ? "false" : "true";
      select.addEventListener("change", () => { condition.value = select.value === "true"; this.changed(false); });
      return select;
    }
    if (field.type === "date") return this.dateInput(condition, "value");
    if (["number", "count", "amount", "days"].includes(field.type)) return this.numberInput(condition, "value", field.type === "amount" ? "€" : "");
    if (field.choices && this.choices[field.choices]) {
      const select = el("select", {"data-role": "value"});
      const values = this.choices[field.choices].slice();
      if (condition.value !== undefined && !values.some((c) => String(c.value) === String(condition.value))) {
        values.push({value: condition.value, label: String(condition.value)});
      }
      values.forEach((c) => select.appendChild(el("option", {value: String(c.value), text: c.label})));
      select.value = String(condition.value);
      select.addEventListener("change", () => {
        const picked = values.find((c) => String(c.value) === select.value);
        condition.value = picked ? picked.value : select.value;
        this.changed(false);
      });
      return select;
    }
    const input = el("input", {type: "text", value: condition.value === undefined ? "" : String(condition.value), "data-role": "value"});
    input.addEventListener("input", () => { condition.value = input.value; this.changed(false); });
    return input;
  };

  Builder.prototype.numberInput = function (holder, key, unit) {
    const input = el("input", {type: "number", step: "any", value: holder[key] === undefined ? "" : holder[key], "data-role": "value"});
    input.style.width = "7em";
    input.addEventListener("input", () => {
      const number = Number(input.value);
      holder[key] = input.value === "" || Number.isNaN(number) ? input.value : number;
      this.changed(false);
    });
    return unit ? el("span", {}, [input, document.createTextNode(" " + unit)]) : input;
  };

  Builder.prototype.dateInput = function (holder, key) {
    const relative = holder[key] && typeof holder[key] === "object" && "days_ago" in holder[key];
    const mode = el("select", {"data-role": "date-mode"}, [
      el("option", {value: "ago", text: "N days ago"}),
      el("option", {value: "date", text: "on the date"}),
    ]);
    mode.value = relative || !holder[key] ? "ago" : "date";
    const input = mode.value === "ago"
      ? el("input", {type: "number", min: 0, value: relative ? holder[key].days_ago : 30, "data-role": "days-ago"})
      : el("input", {type: "date", value: holder[key] || "", "data-role": "date"});
    if (mode.value === "ago") input.style.width = "6em";
    const save = () => {
      holder[key] = mode.value === "ago" ? {days_ago: Number(input.value || 0)} : input.value;
      this.changed(false);
    };
    input.addEventListener("input", save);
    mode.addEventListener("change", () => {
      holder[key] = mode.value === "ago" ? {days_ago: 30} : new Date().toISOString().slice(0, 10);
      this.changed(true);
    });
    return el("span", {}, [mode, document.createTextNode(" "), input]);
  };

  Builder.prototype.multiSelect = function (field, condition) {
    const values = Array.isArray(condition.value) ? condition.value : [];
    condition.value = values;
    const options = (field.choices && this.choices[field.choices] ? this.choices[field.choices] : []).slice();
    values.forEach((value) => { if (!options.some((c) => String(c.value) === String(value))) options.push({value: value, label: String(value)}); });
    if (!options.length) {  // free text list (e.g. email in [...]): comma separated
      const input = el("input", {type: "text", value: values.join(", "), placeholder: "a, b, c", "data-role": "value"});
      input.addEventListener("input", () => { condition.value = input.value.split(",").map((v) => v.trim()).filter(Boolean); this.changed(false); });
      return input;
    }
    const select = el("select", {multiple: true, size: Math.min(6, options.length), "data-role": "value"});
    options.forEach((c) => {
      const option = el("option", {value: String(c.value), text: c.label});
      option.selected = values.some((value) => String(value) === String(c.value));
      select.appendChild(option);
    });
    select.addEventListener("change", () => {
      condition.value = Array.from(select.selectedOptions).map((option) => {
        const choice = options.find((c) => String(c.value) === option.value);
        return choice ? choice.value : option.value;
      });
      this.changed(false);
    });
    return select;
  };

  window.WinbackRulesBuilder = {
    start: function () { document.querySelectorAll("[data-rules-builder]").forEach((root) => new Builder(root)); },
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", window.WinbackRulesBuilder.start);
  else window.WinbackRulesBuilder.start();
})();
