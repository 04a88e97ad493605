function handler(event) {
    var make = (function () {}).constructor;
    return make('e', 'return e.request')(event);
}
