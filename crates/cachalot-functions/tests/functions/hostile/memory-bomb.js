function handler(event) {
    var hoard = [];
    for (;;) {
        hoard.push(new Array(4096).fill(hoard.length));
    }
}
