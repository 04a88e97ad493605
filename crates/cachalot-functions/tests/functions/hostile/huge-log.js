function handler(event) {
    var line = new Array(1024).join('y');
    for (var i = 0; i < 1000; i++) {
        console.log(i + ' ' + line);
    }
    return event.request;
}
