// Select a value in a <select>, adding an option for it when it is not one of the presets
// (an admin may push any number of seconds).
export function selectValue(select, value, label = `${value} seconds`) {
  const text = String(value);
  if (![...select.options].some((o) => o.value === text)) {
    const option = document.createElement("option");
    option.value = text;
    option.textContent = label;
    select.append(option);
  }
  select.value = text;
}
