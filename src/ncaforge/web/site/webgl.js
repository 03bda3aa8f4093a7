window.NCAWebGL = null;
