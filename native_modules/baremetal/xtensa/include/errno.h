// See assert.h: MicroPython defines its own MP_E* codes; nothing needed here.
