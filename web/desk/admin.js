/*
 * The admins' screens of the console: departments (name, automatic assignment,
 * own hours) and users (role, departments, capacity, active), over the same
 * desk API as everything else. Loaded after console.js, which calls
 * window.DeskAdmin(tools) once an admin logs in; tools = {api, el, clear, show,
 * setError, banner, errorText, departmentsChanged}.
 */
(function () {
  "use strict";

  var ROLES = [["atendente", "Atendente"], ["supervisor", "Supervisor(a)"], ["admin", "Administrador(a)"]];
  var ASSIGNMENTS = [["manual", "Manual (assumir)"], ["auto", "Automática"]];

  window.DeskAdmin = function (t) {
    var box = document.getElementById("admin-box");
    var problem = document.getElementById("admin-error");
    t.show(box, true);

    function fail(error) {
      t.setError(problem, error.status === 422 || error.status === 409 ? error.detail : t.errorText(error));
    }

    function done(message) {
      t.setError(problem, "");
      t.banner(message, "info");
    }

    function select(options, value, label, testid) {
      var node = t.el("select", { "aria-label": label, "data-testid": testid },
        options.map(function (option) { return t.el("option", { value: option[0], text: option[1] }); }));
      node.value = value;
      return node;
    }

    function input(value, label, testid, attrs) {
      var node = t.el("input", Object.assign({ value: value == null ? "" : String(value), "aria-label": label,
                                              "data-testid": testid }, attrs || {}));
      return node;
    }

    // --- departments ---------------------------------------------------------

    function loadDepartments() {
      t.api("GET", "/departments").then(function (data) {
        var body = document.getElementById("admin-departments");
        t.clear(body);
        ((data && data.departments) || []).forEach(function (d) { body.appendChild(departmentRow(d)); });
      }, fail);
    }

    function departmentRow(d) {
      var name = input(d.name, "Nome do setor " + d.slug, "dept-name");
      var assignment = select(ASSIGNMENTS, d.assignment, "Distribuição do setor " + d.slug, "dept-assignment");
      var hours = input(d.hours || "", "Horário do setor " + d.slug, "dept-hours",
                        { placeholder: "horário da central", maxlength: "200" });
      var save = t.el("button", { type: "button", text: "Salvar", "data-testid": "dept-save" });
      save.addEventListener("click", function () {
        t.api("PATCH", "/departments/" + encodeURIComponent(d.slug),
              { name: name.value, assignment: assignment.value, hours: hours.value }).then(function () {
          done("Setor " + name.value + " salvo.");
          t.departmentsChanged();
        }, fail);
      });
      return t.el("tr", { "data-testid": "dept-row", "data-slug": d.slug }, [
        t.el("td", { text: d.slug }), t.el("td", {}, [name]), t.el("td", {}, [assignment]),
        t.el("td", {}, [hours]), t.el("td", {}, [save])]);
    }

    document.getElementById("department-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      t.api("POST", "/departments", { slug: form.elements.slug.value.trim(), name: form.elements.name.value })
        .then(function () {
          done("Setor criado.");
          form.reset();
          loadDepartments();
          t.departmentsChanged();
        }, fail);
    });

    // --- users ------------------------------------------------------------------

    function loadUsers() {
      t.api("GET", "/users?limit=200").then(function (data) {
        var body = document.getElementById("admin-users");
        t.clear(body);
        ((data && data.users) || []).forEach(function (u) { body.appendChild(userRow(u)); });
      }, fail);
    }

    function userRow(u) {
      var name = input(u.name, "Nome de " + u.username, "user-name");
      var role = select(ROLES, u.role, "Papel de " + u.username, "user-role");
      var departments = input((u.departments || []).join(", "), "Setores de " + u.username, "user-departments",
                              { placeholder: "todos" });
      var capacity = input(u.capacity, "Capacidade de " + u.username, "user-capacity",
                           { type: "number", min: "1", max: "50" });
      var active = t.el("input", { type: "checkbox", "aria-label": "Ativo: " + u.username, "data-testid": "user-active" });
      active.checked = !u.disabled;
      var save = t.el("button", { type: "button", text: "Salvar", "data-testid": "user-save" });
      save.addEventListener("click", function () {
        t.api("PATCH", "/users/" + encodeURIComponent(u.username), {
          name: name.value, role: role.value, capacity: parseInt(capacity.value, 10), disabled: !active.checked,
          departments: departments.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean)
        }).then(function () { done("Usuário " + u.username + " salvo."); }, fail);
      });
      return t.el("tr", { "data-testid": "user-row", "data-username": u.username }, [
        t.el("td", { text: u.username }), t.el("td", {}, [name]), t.el("td", {}, [role]),
        t.el("td", {}, [departments]), t.el("td", {}, [capacity]), t.el("td", {}, [active]), t.el("td", {}, [save])]);
    }

    document.getElementById("user-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      t.api("POST", "/users", { username: form.elements.username.value.trim(), name: form.elements.name.value,
                                role: form.elements.role.value, password: form.elements.password.value })
        .then(function () {
          done("Usuário criado.");
          form.reset();
          loadUsers();
        }, fail);
    });

    box.addEventListener("toggle", function () {
      if (box.open) { loadDepartments(); loadUsers(); }
    });
  };
}());
